// Command gen writes taskbot's Grafana dashboard (package grafana) to the files it is committed
// as, grafana.Files under deploy/. Run it from deploy/grafana with `go generate`, or from deploy/
// with `go run ./grafana/gen`.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/taskbot/taskbot/deploy/grafana"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

// run writes the JSON under the deploy/ directory it finds from the working directory.
func run() error {
	root, err := deployDir()
	if err != nil {
		return err
	}
	b, err := grafana.JSON()
	if err != nil {
		return err
	}
	for _, f := range grafana.Files {
		path := filepath.Join(root, f)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			return err
		}
		fmt.Println("wrote", path)
	}
	return nil
}

// deployDir is the directory of the deploy module's go.mod: the working directory or one of its
// parents.
func deployDir() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && containsModule(b) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no deploy/go.mod above the working directory")
		}
		dir = parent
	}
}

// containsModule says whether a go.mod declares the deploy module.
func containsModule(gomod []byte) bool {
	const want = "module github.com/taskbot/taskbot/deploy\n"
	return len(gomod) >= len(want) && string(gomod[:len(want)]) == want
}
