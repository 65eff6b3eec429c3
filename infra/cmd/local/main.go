// Command local runs the whole privacy core on one machine without Docker or
// the SAM CLI: moto_server for DynamoDB and SQS, the tables and queues of
// template.yaml, the template's HTTP routes served by the real handlers, its
// SQS consumers fed by local pollers, and its schedules run on demand.
//
//	local run     [-addr 127.0.0.1:3000] [-template template.yaml] [-retry-delay 2s]
//	local token   -pid <person id> [-scope "forms:write"] [-ttl 1h]
//	local token   -client <id> -scope "sector:read" [-ttl 1h]   (a machine client: no person id)
//	local trigger [-addr 127.0.0.1:3000] <FunctionLogicalId>
//	local clock   [-addr 127.0.0.1:3000] [-advance 720h | -days 30]
//	local register-event [-addr 127.0.0.1:3000] -type death -pid <person id>
//	local helseid-key    (a new HelseID client key: private JWK on stdout, public on stderr)
//
// trigger and clock are clients of a running `local run` (its admin routes
// under /_local/), for a second terminal.
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
	"privacycore/infra/fakenhn"
	"privacycore/infra/localrun"
	"privacycore/infra/stack"
	"privacycore/shared/domain/nin"
	"privacycore/shared/domain/personkey"
	"privacycore/shared/platform/obs"
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
	case "personkey":
		err = personKey(args)
	case "token":
		err = token(args)
	case "trigger":
		err = trigger(args)
	case "clock":
		err = clock(args)
	case "register-event":
		err = registerEvent(args)
	case "helseid-key":
		err = helseIDKey()
	default:
		err = fmt.Errorf("unknown command %q (want run, token, personkey, trigger, clock, register-event or helseid-key)", cmd)
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
	retryDelay := fs.Duration("retry-delay", 0, "redeliver a failed SQS message after this long instead of the queue's visibility timeout (0: the queue's, as in AWS)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := checkLoopback(*addr); err != nil {
		return err
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
	// The functions read the person-key secret from Parameter Store, as in
	// AWS; the emulator's holds the development secret.
	// The population register and HelseID are fakes on their own port; the
	// functions reach them through the template's parameters, with the
	// HelseID client key in Parameter Store, as in AWS.
	nhn, nhnKey, params, err := fakenhn.StartLocal("/privacycore/local/helseid-client-key")
	if err != nil {
		return err
	}
	defer nhn.Close()
	params["PersonKeySecretParameter"] = "/privacycore/local/person-key-secret"
	local, err := stack.Up(ctx, tmpl, srv, "privacycore-local", params)
	if err != nil {
		return err
	}
	if err := local.PutSecret(ctx, params["PersonKeySecretParameter"], personkey.DevSecret); err != nil {
		return err
	}
	if err := local.PutSecret(ctx, params["HelseIdKeyParameter"], string(nhnKey)); err != nil {
		return err
	}
	verifier := devjwt.Verifier{Issuer: tmpl.Param("JwtIssuer", params), Audience: tmpl.Param("JwtAudience", params), Now: time.Now}
	runner, err := localrun.New(local, localrun.Registry, verifier, os.Stderr, log, localrun.NewClock(nil))
	if err != nil {
		return err
	}
	runner.RetryDelay = *retryDelay
	runner.Register = nhn.Register
	l, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *addr, err)
	}
	fmt.Printf("Privacy core running locally.\n\n")
	fmt.Printf("  HTTP API   http://%s\n", l.Addr())
	fmt.Printf("  register   %s  (fake Persontjenesten and HelseID; add events with make register-event)\n", nhn.URL)
	fmt.Printf("  emulator   %s  (DynamoDB and SQS; AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=%s)\n\n", srv.Endpoint, emulator.Region)
	fmt.Printf("Tables:\n")
	for _, t := range local.Resolved.Tables {
		fmt.Printf("  %-24s %s\n", t.LogicalID, t.Name)
	}
	if qs := runner.Queues(); len(qs) > 0 {
		fmt.Printf("Queues:\n")
		for _, q := range qs {
			fmt.Printf("  %-24s %s\n", q.LogicalID, q.URL)
			for _, c := range q.Consumers {
				partial := ""
				if c.ReportItemFailures {
					partial = ", partial batch failures"
				}
				fmt.Printf("  %-24s   -> %s (batch %d%s)\n", "", c.Function, c.BatchSize, partial)
			}
			if q.DeadLetterQueue != "" {
				fmt.Printf("  %-24s   dead letters -> %s\n", "", q.DeadLetterQueue)
			}
		}
	}
	fmt.Printf("Routes:\n")
	for _, r := range runner.Routes() {
		fmt.Printf("  %s\n", r)
	}
	if ss := runner.Schedules(); len(ss) > 0 {
		fmt.Printf("Schedules (never fire locally; run one now with the command shown):\n")
		for _, s := range ss {
			fmt.Printf("  %-24s %-28s make sweep FN=%s\n", s.Function, strings.TrimSpace(s.Expression+" "+s.Timezone), s.Function)
		}
	}
	fmt.Printf("\nIn a second terminal (the README's walk-throughs follow $API):  export API=http://%s\n", l.Addr())
	fmt.Printf("Mint a token for a test person:  make token PID=14838500073\n")
	fmt.Printf("Local clock (what the functions see as now): make clock   (make clock DAYS=30 moves it 30 days ahead)\n")
	fmt.Printf("Local admin routes: http://%s/_local/\n", l.Addr())
	fmt.Printf("Stop with Ctrl-C (stops the emulator too).\n\n")
	return runner.Serve(ctx, l)
}

func token(args []string) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	pid := fs.String("pid", "", "person id (11 digits; synthetic test ids have month+80)")
	scope := fs.String("scope", "", "space-separated scopes, e.g. forms:write for operators")
	client := fs.String("client", "", "a machine client's id instead of a person (e.g. -client kjernejournal -scope sector:read)")
	ttl := fs.Duration("ttl", time.Hour, "lifetime")
	tmplPath := fs.String("template", "template.yaml", "SAM template (for issuer and audience)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *client == "" {
		if _, err := nin.Parse(*pid); err != nil {
			return fmt.Errorf("-pid: %w", err)
		}
	}
	tmpl, err := stack.Load(*tmplPath)
	if err != nil {
		return err
	}
	mint := func() (string, error) {
		return devjwt.Mint(tmpl.Param("JwtIssuer", nil), tmpl.Param("JwtAudience", nil), *pid, strings.Fields(*scope), time.Now(), *ttl)
	}
	if *client != "" {
		mint = func() (string, error) {
			return devjwt.MintClient(tmpl.Param("JwtIssuer", nil), tmpl.Param("JwtAudience", nil), *client, strings.Fields(*scope), time.Now(), *ttl)
		}
	}
	tok, err := mint()
	if err != nil {
		return err
	}
	fmt.Println(tok)
	return nil
}

// personKey prints the table key of a person id under the local dev secret,
// so a developer can look at a person's partition with the AWS CLI.
func personKey(args []string) error {
	fs := flag.NewFlagSet("personkey", flag.ContinueOnError)
	pid := fs.String("pid", "", "person id (11 digits)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	id, err := nin.Parse(*pid)
	if err != nil {
		return fmt.Errorf("-pid: %w", err)
	}
	k, err := personkey.New([]byte(personkey.DevSecret))
	if err != nil {
		return err
	}
	fmt.Println(k.Key(id))
	return nil
}

// helseIDKey makes a key pair for a HelseID client: the private JWK (for
// Parameter Store) on stdout, the public one (for HelseID) on stderr.
func helseIDKey() error {
	priv, pub, err := fakenhn.NewClientKey()
	if err != nil {
		return err
	}
	pb, err := pub.MarshalJSON()
	if err != nil {
		return err
	}
	fmt.Println(string(priv))
	fmt.Fprintln(os.Stderr, string(pb))
	return nil
}
