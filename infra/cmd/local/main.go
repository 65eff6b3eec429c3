// Command local runs the whole privacy core on one machine without Docker or
// the SAM CLI: moto_server for DynamoDB and SQS, the tables and queues of
// template.yaml, and the template's HTTP routes served by the real handlers.
//
//	local run   [-addr 127.0.0.1:3000] [-template template.yaml]
//	local token -pid <person id> [-scope "forms:write"] [-ttl 1h]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"privacycore/infra/devjwt"
	"privacycore/infra/emulator"
	"privacycore/infra/localrun"
	"privacycore/infra/stack"
	"privacycore/shared/nin"
	"privacycore/shared/obs"
	"privacycore/shared/personkey"
)

func main() {
	args := os.Args[1:]
	cmd := "run"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "run":
		err = run(args)
	case "token":
		err = token(args)
	default:
		err = fmt.Errorf("unknown command %q (want run or token)", cmd)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "local:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:3000", "loopback address to serve the HTTP API on")
	tmplPath := fs.String("template", "template.yaml", "SAM template")
	motoLog := fs.Bool("moto-log", false, "show moto_server's own log")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if host, _, err := net.SplitHostPort(*addr); err != nil || !net.ParseIP(host).IsLoopback() {
		return fmt.Errorf("-addr must be a loopback address, got %q", *addr)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := obs.NewLogger(os.Stderr, slog.LevelInfo)

	tmpl, err := stack.Load(*tmplPath)
	if err != nil {
		return err
	}
	var mlog io.Writer
	if *motoLog {
		mlog = os.Stderr
	}
	srv, err := emulator.Start(ctx, 0, mlog)
	if err != nil {
		return err
	}
	defer srv.Stop()
	params := map[string]string{"PersonKeySecret": personkey.DevSecret}
	local, err := stack.Up(ctx, tmpl, srv, "privacycore-local", params)
	if err != nil {
		return err
	}
	verifier := devjwt.Verifier{Issuer: tmpl.Param("JwtIssuer", params), Audience: tmpl.Param("JwtAudience", params), Now: time.Now}
	runner, err := localrun.New(local, localrun.Registry, verifier, os.Stderr, log, time.Now)
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *addr, err)
	}
	fmt.Printf("Privacy core running locally.\n\n")
	fmt.Printf("  HTTP API   http://%s\n", l.Addr())
	fmt.Printf("  emulator   %s  (DynamoDB and SQS; AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=%s)\n\n", srv.Endpoint, emulator.Region)
	fmt.Printf("Tables:\n")
	for _, t := range local.Resolved.Tables {
		fmt.Printf("  %-20s %s\n", t.LogicalID, t.Name)
	}
	if len(local.Resolved.Queues) > 0 {
		fmt.Printf("Queues:\n")
		for _, q := range local.Resolved.Queues {
			fmt.Printf("  %-20s %s\n", q.LogicalID, local.QueueURLs[q.LogicalID])
		}
	}
	fmt.Printf("Routes:\n")
	for _, r := range runner.Routes() {
		fmt.Printf("  %s\n", r)
	}
	fmt.Printf("\nMint a token for a test person:  make token PID=14838500073\n")
	fmt.Printf("Stop with Ctrl-C (stops the emulator too).\n\n")
	return runner.Serve(ctx, l)
}

func token(args []string) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	pid := fs.String("pid", "", "person id (11 digits; synthetic test ids have month+80)")
	scope := fs.String("scope", "", "space-separated scopes, e.g. forms:write for operators")
	ttl := fs.Duration("ttl", time.Hour, "lifetime")
	tmplPath := fs.String("template", "template.yaml", "SAM template (for issuer and audience)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if _, err := nin.Parse(*pid); err != nil {
		return fmt.Errorf("-pid: %w", err)
	}
	tmpl, err := stack.Load(*tmplPath)
	if err != nil {
		return err
	}
	tok, err := devjwt.Mint(tmpl.Param("JwtIssuer", nil), tmpl.Param("JwtAudience", nil), *pid, strings.Fields(*scope), time.Now(), *ttl)
	if err != nil {
		return err
	}
	fmt.Println(tok)
	return nil
}
