package doctor

import (
	"context"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/serverless-signalr/functions-go/internal/apperr"
	"github.com/serverless-signalr/functions-go/internal/server"
	"github.com/serverless-signalr/functions-go/internal/textutil"
	"github.com/serverless-signalr/functions-go/signalr"
)

// DefaultTimeout bounds each network step (DNS, TCP, TLS, one HTTP call).
const DefaultTimeout = 5 * time.Second

// ErrChecksFailed is returned by [Main] when at least one check failed.
var ErrChecksFailed = errors.New("doctor: at least one check failed")

// Options selects what [Run] checks.
type Options struct {
	// Dir is the root of the Functions app (host.json); "" means ".".
	Dir string
	// User and Claims are the sample identity of the token-size check;
	// empty means a typical user.
	User   string
	Claims []signalr.Claim
	// Origin, when set, is the browser origin of the CORS check.
	Origin string
	// URL, when set, is the base URL of a running handler
	// (http://localhost:7071/api) for the end-to-end negotiate check.
	URL string
	// Token, when set, is sent as "Authorization: Bearer <Token>" on the
	// negotiate POST to URL, as accessTokenFactory makes @microsoft/signalr
	// do. It is never printed.
	Token string
	// Credential, when not nil, replaces the Microsoft Entra ID credential
	// derived from an Entra ID connection string (signalr.NewCredential)
	// in the auth and signing-key checks; tests pass a fake.
	Credential azcore.TokenCredential
	// Timeout bounds each network step; 0 means [DefaultTimeout].
	Timeout time.Duration
	// Upstream, when set, is an upstream URL (…/api/upstream?code=…) the
	// doctor sends signed connected and test-invocation calls to
	// (upstream.go).
	Upstream string
	// Publish requires the executable to be a linux/amd64 ELF file.
	Publish bool

	// Config, when not nil, replaces server.Load; ConfigErr is then the
	// error Load returned with it.
	Config    *server.Config
	ConfigErr error
	// Getenv reads further settings; Environ lists the environment the
	// settings are loaded from (server.Load) and, with Config, the
	// endpoint settings (Azure__SignalR__Endpoints__*). Nil means an empty
	// environment: the doctor never reads the process environment itself.
	Getenv  func(string) string
	Environ func() []string
	// RootCAs verifies the services' certificates; nil means the system pool.
	RootCAs *x509.CertPool
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// runner carries one run's state.
type runner struct {
	opts      Options
	cfg       server.Config
	endpoints []endpointConf
	layout    *layout
	local     *server.LocalSettings
	findings  []Finding
}

func (r *runner) add(f Finding) { r.findings = append(r.findings, f) }

func (r *runner) getenv(k string) string { return r.opts.Getenv(k) }

func (r *runner) now() time.Time { return r.opts.Now() }

// Run performs every check in order and returns the findings: settings, app
// layout, connection strings, each endpoint's network path, token size,
// CORS and, with Options.URL, negotiate and the client handshake end to
// end. It never returns early on a failure; checks that depend on a failed
// one are reported as SKIP.
// Each network step is bounded by Options.Timeout.
func Run(ctx context.Context, opts Options) []Finding {
	if opts.Dir == "" {
		opts.Dir = "."
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Getenv == nil {
		opts.Getenv = func(string) string { return "" }
	}
	if opts.Environ == nil {
		opts.Environ = func() []string { return nil }
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	r := &runner{opts: opts}
	r.loadLocalSettings(opts.Config == nil)
	r.checkSettings()
	r.checkApp()
	r.checkConnectionStrings()
	for i := range r.endpoints {
		r.checkEndpoint(ctx, &r.endpoints[i])
	}
	r.checkTokenSize()
	r.checkCORS()
	r.checkEndToEnd(ctx)
	r.checkUpstream(ctx)
	secrets := []string{opts.Token}
	for _, ep := range r.endpoints {
		secrets = append(secrets, ep.cs.AccessKey, ep.cs.ClientSecret)
	}
	redactFindings(r.findings, secrets...)
	return r.findings
}

// checkSettings loads the settings as the handler does and builds the
// server once (without serving) to surface every startup error.
func (r *runner) checkSettings() {
	var err error
	if r.opts.Config != nil {
		r.cfg, err = *r.opts.Config, r.opts.ConfigErr
	} else {
		r.cfg, err = server.Load(server.EnvFrom(r.opts.Environ()), r.opts.Dir)
	}
	if r.cfg.ConnectionString == "" {
		r.cfg.ConnectionString = r.getenv("AzureSignalRConnectionString")
	}
	if r.cfg.HubName == "" {
		r.cfg.HubName = "chat"
	}
	if err != nil {
		r.add(Explain(err))
		return
	}
	if err := r.cfg.Validate(); err != nil {
		r.add(Explain(err))
		return
	}
	for _, h := range append([]string{r.cfg.HubName}, r.cfg.AllowedHubs...) {
		if err := signalr.ValidateHubName(h); err != nil {
			r.add(finding("settings", Fail, apperr.CodeConfigInvalid, fmt.Sprintf("hub %q in AzureSignalRHubName/SIGNALR_ALLOWED_HUBS is invalid: %v", h, err), "", nil))
			return
		}
	}
	if r.opts.Config == nil {
		// Build the server once, without serving, to surface every startup
		// error; connection-string errors have their own check below.
		s, err := server.New(r.cfg, slog.New(slog.DiscardHandler))
		if err != nil {
			if code := apperr.Code(err); !strings.HasPrefix(code, "config.connection_string.") && code != apperr.CodeConfigEndpoints {
				r.add(Explain(err))
				return
			}
		} else {
			s.Close()
		}
	}
	r.add(finding("settings", Pass, "", fmt.Sprintf("the settings load and validate: hub %q, token lifetime %s, anonymous %t", r.cfg.HubName, r.cfg.TokenLifetime, r.cfg.AllowAnonymous), "", nil))
}

// ParseClaims parses the --claims flag: comma-separated type=value pairs.
// Each pair splits at its first '='; types are trimmed and must not be
// empty.
func ParseClaims(s string) ([]signalr.Claim, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []signalr.Claim
	for part := range strings.SplitSeq(s, ",") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		t, v, ok := strings.Cut(part, "=")
		t = strings.TrimSpace(t)
		if !ok || t == "" {
			return nil, fmt.Errorf("claim %q is not of the form type=value", textutil.Truncate(part, 40))
		}
		out = append(out, signalr.Claim{Type: t, Value: v})
	}
	return out, nil
}

// Main runs `handler doctor` with args (the arguments after "doctor"):
// flags --dir, --user, --claims, --origin, --url, --token (default
// $DOCTOR_TOKEN), --timeout, --json and --publish. env is the handler's
// environment (the settings are loaded from it as the handler loads them).
// It prints the findings to stdout and returns [ErrChecksFailed] when any
// check failed, or a usage error.
func Main(ctx context.Context, args []string, env server.Env, stdout, stderr io.Writer) error {
	fset := flag.NewFlagSet("doctor", flag.ContinueOnError)
	fset.SetOutput(stderr)
	var (
		opts    Options
		claims  string
		asJSON  bool
		timeout = DefaultTimeout
	)
	fset.StringVar(&opts.Dir, "dir", ".", "root of the Functions app (host.json)")
	fset.StringVar(&opts.User, "user", "", "sample user id for the token-size check")
	fset.StringVar(&claims, "claims", "", "sample claims type=value,... for the token-size check")
	fset.StringVar(&opts.Origin, "origin", "", "browser origin for the CORS check, e.g. http://localhost:5173")
	fset.StringVar(&opts.URL, "url", "", "base URL of a running handler for the end-to-end check, e.g. http://localhost:7071/api")
	fset.StringVar(&opts.Token, "token", "", "bearer token for the handler's negotiate (as accessTokenFactory); default $DOCTOR_TOKEN; never printed")
	fset.DurationVar(&timeout, "timeout", DefaultTimeout, "bound of each network step")
	fset.BoolVar(&asJSON, "json", false, "print the findings as JSON")
	fset.StringVar(&opts.Upstream, "upstream", "", "upstream URL to send a signed connected event and test invocation to, e.g. http://localhost:7071/api/upstream or https://APP.azurewebsites.net/api/upstream?code=KEY")
	fset.BoolVar(&opts.Publish, "publish", false, "require a linux/amd64 executable (before deploying)")
	fset.Usage = func() {
		fmt.Fprintln(stderr, "usage: handler doctor [flags]\n\nDiagnoses settings, app layout, endpoints, token size, CORS and negotiate.\n\nflags:")
		fset.PrintDefaults()
	}
	if err := fset.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fset.NArg() > 0 {
		fset.Usage()
		return fmt.Errorf("doctor: unexpected argument %q", fset.Arg(0))
	}
	if timeout <= 0 {
		return fmt.Errorf("doctor: --timeout must be positive")
	}
	opts.Timeout = timeout
	c, err := ParseClaims(claims)
	if err != nil {
		return fmt.Errorf("doctor: --claims: %w", err)
	}
	opts.Claims = c
	opts.Getenv, opts.Environ = env.Get, env.Environ
	if opts.Token == "" {
		opts.Token = strings.TrimSpace(env.Get("DOCTOR_TOKEN"))
	}
	fs := Run(ctx, opts)
	if asJSON {
		err = WriteJSON(stdout, fs)
	} else {
		err = WriteText(stdout, fs)
	}
	if err != nil {
		return err
	}
	if Failed(fs) {
		return ErrChecksFailed
	}
	return nil
}
