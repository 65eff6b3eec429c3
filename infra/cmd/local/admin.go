package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"privacycore/infra/localrun"
)

// triggerTimeout is Lambda's longest run; a sweep never takes longer.
const triggerTimeout = 15 * time.Minute

// trigger runs a scheduled function of a running `local run` now.
func trigger(args []string) error {
	fs := flag.NewFlagSet("trigger", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:3000", "address `local run` serves on")
	names, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(names) != 1 {
		return errors.New("usage: local trigger [-addr 127.0.0.1:3000] <FunctionLogicalId>")
	}
	if err := checkLoopback(*addr); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, triggerTimeout)
	defer cancel()
	var out localrun.TriggerResult
	if err := call(ctx, http.MethodPost, *addr, "/_local/schedules/"+url.PathEscape(names[0]), nil, &out); err != nil {
		return fmt.Errorf("trigger %s: %w", names[0], err)
	}
	fmt.Println(describeRun(out))
	return nil
}

// describeRun says what a triggered function did, from its own result:
// "SweeperFunction ran (request local-…): jobsQueued=1 overdueJobs=0".
func describeRun(r localrun.TriggerResult) string {
	s := fmt.Sprintf("%s ran (request %s)", r.Function, r.RequestID)
	if len(r.Result) == 0 {
		return s + ": it reported nothing"
	}
	parts := make([]string, 0, len(r.Result))
	for _, k := range slices.Sorted(maps.Keys(r.Result)) {
		parts = append(parts, fmt.Sprintf("%s=%d", k, r.Result[k]))
	}
	return s + ": " + strings.Join(parts, " ")
}

// clock shows, or moves forward, the clock of a running `local run`.
func clock(args []string) error {
	fs := flag.NewFlagSet("clock", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:3000", "address `local run` serves on")
	advance := fs.String("advance", "", "move the clock forward by this Go duration (720h)")
	days := fs.String("days", "", "move the clock forward by this many days")
	rest, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(rest) > 0:
		return fmt.Errorf("unexpected arguments %q (usage: local clock [-addr 127.0.0.1:3000] [-advance 720h | -days 30])", rest)
	case *advance != "" && *days != "":
		return errors.New("give -advance or -days, not both")
	}
	if err := checkLoopback(*addr); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	method, q := http.MethodGet, url.Values{}
	switch {
	case *advance != "":
		method, q = http.MethodPost, url.Values{"advance": {*advance}}
	case *days != "":
		method, q = http.MethodPost, url.Values{"days": {*days}}
	}
	var st localrun.ClockState
	if err := call(ctx, method, *addr, "/_local/clock", q, &st); err != nil {
		return fmt.Errorf("clock: %w", err)
	}
	fmt.Printf("local clock %s (real time + %s)\n", st.Now, st.Offset)
	return nil
}

// call sends one request to the admin routes and decodes the JSON answer
// into out; a problem answer becomes an error with its detail.
func call(ctx context.Context, method, addr, path string, q url.Values, out any) error {
	u := url.URL{Scheme: "http", Host: addr, Path: path, RawQuery: q.Encode()}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("reach the local runner on %s (is `make run` running?): %w", addr, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("read the answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var p struct {
			Code   string `json:"code"`
			Detail string `json:"detail"`
		}
		if json.Unmarshal(body, &p) != nil || p.Code == "" {
			return fmt.Errorf("%s %s: %s", method, path, resp.Status)
		}
		return fmt.Errorf("%s (%s, %s)", p.Detail, p.Code, resp.Status)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("decode the answer %.200q: %w", body, err)
	}
	return nil
}

// parseInterleaved parses flags given before and after the positional
// arguments (local trigger SweeperFunction -addr ...), and returns those.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// checkLoopback insists on a loopback host:port; the runner and its admin
// routes are for this machine only.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("-addr must be a loopback address such as 127.0.0.1:3000, got %q", addr)
	}
	return nil
}

// registerEvent adds a change to the fake population register of a running
// `local run`; the register feed reads its event on its next run.
func registerEvent(args []string) error {
	fs := flag.NewFlagSet("register-event", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:3000", "address `local run` serves on")
	typ := fs.String("type", "", "death, death_annulled, parental_responsibility_set, parental_responsibility_ended, id_change, discontinued, contact, poison")
	pid := fs.String("pid", "", "the person (death, death_annulled, id_change, discontinued, contact)")
	newPID := fs.String("new-pid", "", "id_change: the new id")
	parent := fs.String("parent", "", "parental_responsibility_*: the parent")
	child := fs.String("child", "", "parental_responsibility_*: the child")
	email := fs.String("email", "", "contact: e-mail")
	phone := fs.String("phone", "", "contact: phone")
	rest, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 || *typ == "" {
		return errors.New("usage: local register-event [-addr 127.0.0.1:3000] -type death -pid <id> (see -h)")
	}
	if err := checkLoopback(*addr); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	q := url.Values{"type": {*typ}}
	for k, v := range map[string]string{"pid": *pid, "newPid": *newPID, "parent": *parent, "child": *child, "email": *email, "phone": *phone} {
		if v != "" {
			q.Set(k, v)
		}
	}
	var out struct {
		Type string `json:"type"`
		Seq  int64  `json:"sequenceNumber"`
	}
	if err := call(ctx, http.MethodPost, *addr, "/_local/register/events", q, &out); err != nil {
		return fmt.Errorf("register-event: %w", err)
	}
	fmt.Printf("register event %d (%s) published; make sweep FN=RegisterFeedFunction reads it\n", out.Seq, out.Type)
	return nil
}
