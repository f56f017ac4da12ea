package main

import (
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// There is no Docker engine where the tests run, so the image cannot be built here. These
// tests read the Dockerfile and .dockerignore and check the properties that matter at run
// time.

// dockerInstr is one Dockerfile instruction: its keyword in upper case and the rest of the
// line, continuation lines joined.
type dockerInstr struct{ cmd, args string }

// dockerStage is one FROM … [AS name] and its instructions.
type dockerStage struct {
	name   string
	instrs []dockerInstr
}

// parseDockerfile splits a Dockerfile into stages. Comments, parser directives and blank lines
// are dropped; a line ending in a backslash continues on the next.
func parseDockerfile(t *testing.T, text string) []dockerStage {
	t.Helper()
	var stages []dockerStage
	var cur strings.Builder
	flush := func() {
		line := strings.TrimSpace(cur.String())
		cur.Reset()
		if line == "" {
			return
		}
		cmd, args, _ := strings.Cut(line, " ")
		in := dockerInstr{strings.ToUpper(cmd), strings.TrimSpace(args)}
		if in.cmd == "FROM" {
			f := strings.Fields(in.args)
			st := dockerStage{name: f[0]}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				st.name = f[2]
			}
			stages = append(stages, st)
			return
		}
		if len(stages) == 0 {
			t.Fatalf("Dockerfile: %s before the first FROM", in.cmd)
		}
		stages[len(stages)-1].instrs = append(stages[len(stages)-1].instrs, in)
	}
	for _, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") {
			continue
		}
		if strings.HasSuffix(trimmed, `\`) {
			cur.WriteString(strings.TrimSuffix(trimmed, `\`) + " ")
			continue
		}
		cur.WriteString(trimmed)
		flush()
	}
	flush()
	return stages
}

// envOf returns the variables the stage's ENV instructions set (KEY=value forms).
func envOf(st dockerStage) map[string]string {
	env := map[string]string{}
	for _, in := range st.instrs {
		if in.cmd != "ENV" {
			continue
		}
		for _, f := range strings.Fields(in.args) {
			if k, v, ok := strings.Cut(f, "="); ok {
				env[k] = strings.Trim(v, `"`)
			}
		}
	}
	return env
}

// treeSource finds where the final image's directory dir comes from: a COPY --from=S SRC DEST
// whose DEST is a parent of dir copies SRC's contents, so dir is SRC's child entry and keeps
// its mode. (A COPY whose DEST is dir itself copies only the contents; dir is then created
// 0755 whatever the source's mode, which is what happened to images whose /tmp lost its 1777.)
// It returns the stage and the path of dir in it.
func treeSource(final dockerStage, dir string) (stage, src string, ok bool) {
	for _, in := range final.instrs {
		if in.cmd != "COPY" {
			continue
		}
		var from string
		var paths []string
		for _, f := range strings.Fields(in.args) {
			switch {
			case strings.HasPrefix(f, "--from="):
				from = strings.TrimPrefix(f, "--from=")
			case strings.HasPrefix(f, "--"):
			default:
				paths = append(paths, f)
			}
		}
		if from == "" || len(paths) < 2 {
			continue
		}
		dest := path.Clean(paths[len(paths)-1])
		rel, err := filepath.Rel(dest, dir)
		if err != nil || rel == "." || strings.HasPrefix(rel, "..") {
			continue // DEST is dir itself, or not a parent of it
		}
		for _, s := range paths[:len(paths)-1] {
			if strings.HasSuffix(s, "/") || strings.HasSuffix(s, "/.") {
				stage, src, ok = from, path.Join(s, rel), true
			}
		}
	}
	return stage, src, ok
}

// makesSticky reports whether one of the stage's RUN commands gives dir mode 1777, with
// chmod 1777 DIR or mkdir -m 1777 DIR.
func makesSticky(st dockerStage, dir string) bool {
	split := regexp.MustCompile(`&&|;|\|\|`)
	for _, in := range st.instrs {
		if in.cmd != "RUN" {
			continue
		}
		for _, c := range split.Split(in.args, -1) {
			f := strings.Fields(c)
			if len(f) == 0 {
				continue
			}
			has := func(w string) bool {
				for _, x := range f[1:] {
					if x == w {
						return true
					}
				}
				return false
			}
			mode := has("1777") || has("01777")
			switch f[0] {
			case "chmod":
				if mode && has(dir) {
					return true
				}
			case "mkdir":
				if (has("-m") && mode || has("-m1777") || has("--mode=1777")) && has(dir) {
					return true
				}
			}
		}
	}
	return false
}

// TestDockerfileTmp: the scratch image has a /tmp with mode 1777 (the demo and os.TempDir need
// a writable temporary directory, and the image has no shell to make one) and TMPDIR names it.
func TestDockerfileTmp(t *testing.T) {
	raw, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	stages := parseDockerfile(t, string(raw))
	if len(stages) < 2 {
		t.Fatalf("Dockerfile has %d stages, want a build stage and the runtime image", len(stages))
	}
	final := stages[len(stages)-1]
	if got := envOf(final)["TMPDIR"]; got != "/tmp" {
		t.Errorf("the runtime image sets TMPDIR=%q, want /tmp", got)
	}
	from, src, ok := treeSource(final, "/tmp")
	if !ok {
		t.Fatalf("no COPY --from=… SRC/ / puts /tmp into the runtime image as part of a tree (so that its mode survives)")
	}
	var build *dockerStage
	for i := range stages[:len(stages)-1] {
		if stages[i].name == from {
			build = &stages[i]
		}
	}
	if build == nil {
		t.Fatalf("/tmp is copied from stage %q, which the Dockerfile does not define", from)
	}
	if !makesSticky(*build, src) {
		t.Errorf("stage %s does not give %s mode 1777 (chmod 1777 %s)", from, src, src)
	}
}

// dockerignore is the exclusion rules of a .dockerignore file, after
// https://docs.docker.com/build/concepts/context/#dockerignore-files: Go filepath.Match
// patterns relative to the context root plus `**` for any number of directories, later rules
// winning, `!` re-including; a path is excluded when it or one of its parent directories
// matches.
type dockerignore []struct {
	re      *regexp.Regexp
	include bool
}

func parseDockerignore(text string) dockerignore {
	var rules dockerignore
	for _, line := range strings.Split(text, "\n") {
		p := strings.TrimSpace(line)
		if p == "" || strings.HasPrefix(p, "#") {
			continue
		}
		include := strings.HasPrefix(p, "!")
		p = strings.TrimPrefix(path.Clean(strings.TrimPrefix(p, "!")), "/")
		var re strings.Builder
		re.WriteString("^")
		for i := 0; i < len(p); i++ {
			switch c := p[i]; {
			case strings.HasPrefix(p[i:], "**/"):
				re.WriteString("(.*/)?")
				i += 2
			case strings.HasPrefix(p[i:], "**"):
				re.WriteString(".*")
				i++
			case c == '*':
				re.WriteString("[^/]*")
			case c == '?':
				re.WriteString("[^/]")
			default:
				re.WriteString(regexp.QuoteMeta(string(c)))
			}
		}
		re.WriteString("$")
		rules = append(rules, struct {
			re      *regexp.Regexp
			include bool
		}{regexp.MustCompile(re.String()), include})
	}
	return rules
}

// excludes reports whether the slash-separated path p (relative to the context root) is left
// out of the build context.
func (d dockerignore) excludes(p string) bool {
	excluded := false
	for _, r := range d {
		for q := p; q != "." && q != "/"; q = path.Dir(q) {
			if r.re.MatchString(q) {
				excluded = !r.include
				break
			}
		}
	}
	return excluded
}

// TestDockerignore: the build context leaves out a locally built binary, .git, state files and
// test leftovers, and keeps every file the build needs (all .go files, go.mod, go.sum).
func TestDockerignore(t *testing.T) {
	raw, err := os.ReadFile(".dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	ign := parseDockerignore(string(raw))
	for _, p := range []string{
		"taskbot", // go build -o taskbot .
		".git", ".git/HEAD", ".git/objects/pack/pack-1.pack",
		"taskbot.db", "testdata/state/old.db.corrupt-20260101",
		"taskbot.test", "bot/bot.test", // go test -c
		"cover.out", "bot/coverage.out", "cpu.prof",
		".cache/go-build/00/0011-d", "bot/.cache/x",
	} {
		if !ign.excludes(p) {
			t.Errorf(".dockerignore lets %s into the build context", p)
		}
	}
	// What the build needs: every Go source file of the module, go.mod and go.sum.
	needed := []string{"go.mod", "go.sum"}
	err = filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(p, ".go") {
			needed = append(needed, filepath.ToSlash(p))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range needed {
		if ign.excludes(p) {
			t.Errorf(".dockerignore leaves out %s, which the build needs", p)
		}
	}
	if len(needed) < 20 {
		t.Errorf("found only %d files the build needs: %v", len(needed), needed)
	}
}
