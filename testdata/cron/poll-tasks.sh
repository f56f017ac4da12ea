#!/usr/bin/env bash
# The cron job a team would run instead of taskbot, as the baseline taskbot is measured against:
# list the tasks in progress from the Acronis Task Manager API v2 with curl (the same pages
# taskbot's reconciliation fetches: state=started&state=paused, 100 a page, following
# paging.cursors.after), reduce each page to one line a task with jq, and diff the list against
# the last run's file: a task whose state changed, that is new, or that left the list (it
# completed, or the API forgot it: the list cannot tell which) is printed as one line.
#
#   ACRONIS_URL=https://eu2-cloud.acronis.com ACRONIS_CLIENT_ID=… ACRONIS_CLIENT_SECRET=… \
#     testdata/cron/poll-tasks.sh STATE_DIR
#
# e.g. from cron every 5 minutes, mailing what it prints. Needs bash, curl and jq. The client
# secret and the token go to curl on its standard input (-K -), never on its command line, where
# other users could read them in the process list. Against the fake Task Manager with N tasks:
# TASKBOT_BASELINE=1 go test -run TestCronBaselineTimes -v ./tasks/taskstest/ (see that test).
set -euo pipefail

dir=${1:?usage: poll-tasks.sh STATE_DIR}
: "${ACRONIS_URL:?} ${ACRONIS_CLIENT_ID:?} ${ACRONIS_CLIENT_SECRET:?}"
mkdir -p "$dir"
api="$ACRONIS_URL/api/task_manager/v2/tasks"

# The token (client credentials, HTTP Basic as x/oauth2's AuthStyleInHeader sends it).
token=$(curl -fsS -K - -d grant_type=client_credentials "$ACRONIS_URL/api/2/idp/token" \
  <<<"user = \"$ACRONIS_CLIENT_ID:$ACRONIS_CLIENT_SECRET\"" | jq -r .access_token)

# Every page of tasks in progress: uuid, state, updatedAt, title, one tab-separated line a task.
# One jq a page prints the next cursor first, then the tasks.
current="$dir/current.tsv"
: >"$current.unsorted"
url="$api?state=started&state=paused&limit=100"
while :; do
  out=$(curl -fsS -K - "$url" <<<"header = \"Authorization: Bearer $token\"" |
    jq -r '(.paging.cursors.after // .cursors.after // ""),
           (.items[] | [.uuid, .state, .updatedAt, (.context.title // .type // "")] | @tsv)')
  after=${out%%$'\n'*}
  rest=${out#"$after"}
  rest=${rest#$'\n'}
  [ -z "$rest" ] || printf '%s\n' "$rest" >>"$current.unsorted"
  [ -n "$after" ] || break
  url="$api?limit=100&after=$after" # the cursor is URL-safe base64
done
LC_ALL=C sort -t $'\t' -k1,1 -o "$current" "$current.unsorted"
rm -f "$current.unsorted"

# The diff against the last run: one line a task whose state is not what it was.
last="$dir/last.tsv"
if [ -f "$last" ]; then
  LC_ALL=C join -t $'\t' -a 1 -a 2 -e - -o 0,1.2,2.2,1.4,2.4 "$last" "$current" |
    awk -F '\t' '$2 != $3 { title = ($5 != "-") ? $5 : $4; print $1 "\t" $2 " -> " $3 "\t" title }'
fi
mv "$current" "$last"
