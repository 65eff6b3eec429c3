package emulator

import (
	"bufio"
	_ "embed" // the moto launcher
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// motoLauncher starts moto's server, like moto_server, after patching
// DynamoDB transactions to cost what they touch.
//
// moto 5 (5.2.1 here) backs up every table a TransactWriteItems names with
// copy.deepcopy before it runs, to put the copy back if an action fails. So
// every transaction costs time in proportion to the whole table: one
// transaction of three small puts took ~23 s on a 100,000-item table, and
// every transaction in every test paid for the items earlier tests left in
// the shared table. In DynamoDB a transaction costs what it touches, so the
// emulator timed our code against a floor that does not exist.
//
// The launcher keeps moto's semantics and changes only the backup: before
// the transaction it deep-copies each item the transaction names (or notes
// it absent), makes moto's table-wide deepcopy return the Table unchanged,
// and on any exception (a failed condition, MultipleTransactions, a
// validation error) puts exactly those items back (or deletes them), drops
// the stream records the transaction added, and re-raises. moto's secondary
// indexes are computed from the table's items on every query, so there is no
// index state to restore. This is exact only because nothing else writes
// during the transaction: the proxy (serialise.go) lets one DynamoDB request
// through at a time.
//
// The launcher checks moto's version (5.x) and the shape of the code it
// patches and exits with status 3 if they differ; Start then runs plain
// moto_server and prints a warning (correct, only slow).
//
//go:embed moto_launch.py
var motoLauncher string

// launchPatchFailed is the launcher's exit status when moto is not the shape
// it patches.
const launchPatchFailed = 3

// python returns the interpreter that runs moto_server at path: the one in
// its #! line, or, when moto_server is a wrapper script (a pyenv shim), the
// python3 next to it or on PATH.
func python(path string) (string, bool) {
	if f, err := os.Open(path); err == nil {
		line, _ := bufio.NewReader(f).ReadString('\n')
		f.Close()
		if rest, ok := strings.CutPrefix(line, "#!"); ok {
			fields := strings.Fields(rest)
			if len(fields) > 1 && filepath.Base(fields[0]) == "env" {
				fields = fields[1:]
			}
			if len(fields) == 1 && strings.HasPrefix(filepath.Base(fields[0]), "python") {
				if p, err := exec.LookPath(fields[0]); err == nil {
					return p, true
				}
			}
		}
	}
	if p, err := exec.LookPath(filepath.Join(filepath.Dir(path), "python3")); err == nil {
		return p, true
	}
	if p, err := exec.LookPath("python3"); err == nil {
		return p, true
	}
	return "", false
}
