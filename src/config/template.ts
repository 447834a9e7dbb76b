/** The commented hotdump.toml written by `hotdump init`. Every value shown is the default. */

export function renderInitConfig(): string {
  return `# hotdump.toml: every key is optional; the values shown are the defaults.
# Durations are Go-style strings ("30ms", "1.5s", "1m"); relative paths are from this file.

# Project root: watched, and where \`go build\` runs.
root = "."

[build]
# Package holding func main, relative to root (e.g. "./cmd/api").
package = "."
# Extra \`go build\` flags, passed as argv (never through a shell), e.g. ["-race", "-trimpath"].
flags = []
# Debug-friendly by default: -N -l keep locals readable in Delve after a crash.
# hotdump never strips binaries: "-s" or "-w" in ldflags is an error.
gcflags = "all=-N -l"
ldflags = ""
tags = []
# The go command to run.
go = "go"

# Environment added for \`go build\` only.
[build.env]
# CGO_ENABLED = "0"

[watch]
# A change to a file with one of these extensions triggers a build.
include_ext = ["go", "mod", "sum", "tmpl", "tpl", "gohtml"]
# Directory names (at any depth) or root-relative paths never watched.
# .git and the store directory are always ignored.
exclude_dir = [".git", "vendor", "node_modules", ".hotdump", "testdata"]
# Root-relative globs (*, **, ?, [abc], {a,b}): include watches files whatever their extension.
include = []
exclude = []
# Regular expressions tested against the root-relative path.
exclude_regex = []
# Honour .gitignore files.
gitignore = true
# Quiet period after the last change before a build starts.
debounce = "10ms"
# Poll instead of inotify: for network file systems and some containers.
poll = false
poll_interval = "500ms"
follow_symlinks = false

[run]
# Start the built binary through a wrapper (like air's full_bin): argv, never through a shell,
# with "{bin}" replaced by the generation's binary; args follow. Crashes of the Go program under
# the wrapper are captured as the generation's. Unset: the binary is run itself.
# command = ["./scripts/dev.sh", "{bin}"]
# Arguments for the service, passed as argv (never through a shell).
args = []
# Working directory of the service, relative to root.
cwd = "."
stop_signal = "SIGTERM"
# After stop_signal, wait this long, then SIGKILL.
stop_timeout = "5s"

# Environment added for the service (like --env NAME=VALUE).
[run.env]
# PORT = "8080"

[supervise]
# Sockets hotdump holds open across reloads (like --listen, repeatable), e.g. [":8080"].
listen = []
# When a new generation counts as ready: http://HOST:{port}/PATH, tcp:HOST:PORT,
# exec:COMMAND, log:REGEX or alive:DURATION.
probe = "alive:1s"
ready_timeout = "60s"
# How long the previous generation may finish its requests.
drain = "30s"

[store]
# Crash bundles and built binaries. A relative path must stay inside the project;
# write an absolute path for a store elsewhere.
dir = ".hotdump"
# Size limits, e.g. "2GiB". Unset, the store keeps to systemd-coredump's budget: at most 10% of
# the file system and at least 15% of it free, each capped at 4GiB; the oldest bundles go first.
# max_use = "2GiB"
# keep_free = "1GiB"

# Every host's crashes in one place (README, "Fleet"): set s3 and pg to send each crash, queued
# in the store and retried until delivered. The environment wins (HOTDUMP_FLEET_S3,
# HOTDUMP_FLEET_S3_ENDPOINT, HOTDUMP_FLEET_PG, HOTDUMP_HOST); credentials come from AWS_*.
# [fleet]
# s3 = "s3://bucket/prefix"
# endpoint = "https://s3.example.com"
# region = "us-east-1"
# pg = "postgres://hotdump_host@db.example.com/hotdump?sslmode=require"
# host = "web-1"
`;
}
