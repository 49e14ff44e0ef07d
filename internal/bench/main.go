// Command bench measures the handler against baselines measured in the same
// run and checks the emulator's fan-out delivery. `make bench` builds it and
// runs it from the repository root after `make build`:
//
//  1. negotiate throughput and latency: ./handler vs a bare net/http
//     process (`bench baseline-server`) serving a fixed negotiate answer;
//  2. readiness: exec to first 200 on POST /api/negotiate, both binaries;
//  3. token minting and identity micro-benchmarks (go test -bench);
//  4. broadcast through the handler vs the same REST call made directly
//     to the emulator (signalr SDK client, and raw net/http with a fresh
//     HS256 token per request), with WebSocket listeners on the hub;
//  5. fan-out: 1,000 WebSocket clients, one broadcast, then a burst;
//  6. memory: peak RSS per in-flight 8 MiB broadcast against the body size.
//
// Every process it starts is stopped on exit, failure or signal; all
// traffic is loopback; every loop is bounded in count and time. Figures are
// printed as ratios against the baseline of the same run. The exit status is
// 0 unless a delivery check lost messages or the run could not be done.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// devKey is the emulator's well-known development key (public, not a secret).
const devKey = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH"

// hub is the hub every section uses (the handler's default).
const hub = "chat"

// config is the command line.
type config struct {
	root      string
	handler   string
	emulator  string
	sections  map[string]bool
	jsonOut   bool
	negConc   int
	negDur    time.Duration
	negRounds int
	warm      time.Duration
	starts    int
	benchTime string
	bcConc    int
	bcDur     time.Duration
	bcRounds  int
	// bcSlices and bcSlice are the loaded broadcast's second measure:
	// rounds of short runs (slicedReport).
	bcSlices  int
	bcSlice   time.Duration
	listeners int
	clients   int
	connPar   int
	burst     int
	// fanoutUpstream keeps the handler as the emulator's upstream in the
	// fan-out (its chat hub announces every connect to every client).
	fanoutUpstream bool
	timeout        time.Duration
}

func main() {
	if len(os.Args) > 1 && (os.Args[1] == "baseline-server" || os.Args[1] == "hop-server") {
		serve := runBaselineServer
		if os.Args[1] == "hop-server" {
			serve = runHopServer
		}
		if err := serve(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	os.Exit(run(os.Args[1:]))
}

func parseFlags(args []string) (config, error) {
	var c config
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.StringVar(&c.root, "root", ".", "repository root (go test runs there; binaries are looked up relative to it)")
	fs.StringVar(&c.handler, "handler", "handler", "handler binary, relative to -root")
	fs.StringVar(&c.emulator, "emulator", "bin/signalr-emulator", "emulator binary, relative to -root")
	sections := fs.String("sections", "negotiate,readiness,tokens,broadcast,fanout,memory,upstream", "comma-separated sections to run")
	fs.BoolVar(&c.jsonOut, "json", false, "print the results as JSON on stdout (the text report goes to stderr)")
	fs.IntVar(&c.negConc, "negotiate-concurrency", 32, "negotiate load: concurrent keep-alive workers")
	fs.DurationVar(&c.negDur, "negotiate-duration", 5*time.Second, "negotiate load: duration of one measured run")
	fs.IntVar(&c.negRounds, "negotiate-rounds", 3, "negotiate load: runs per target, alternated")
	fs.DurationVar(&c.warm, "warmup", 500*time.Millisecond, "discarded warm-up before each measured load run")
	fs.IntVar(&c.starts, "starts", 15, "readiness: starts per binary")
	fs.StringVar(&c.benchTime, "benchtime", "1s", "go test -benchtime for the micro-benchmarks")
	fs.IntVar(&c.bcConc, "broadcast-concurrency", 16, "broadcast load: concurrent workers (same for every path)")
	fs.DurationVar(&c.bcDur, "broadcast-duration", 3*time.Second, "broadcast load: duration of one measured run")
	fs.IntVar(&c.bcRounds, "broadcast-rounds", 3, "broadcast load: runs per path, alternated")
	fs.IntVar(&c.bcSlices, "broadcast-slices", 15, "broadcast load, second measure: rounds of short runs, the first path rotating")
	fs.DurationVar(&c.bcSlice, "broadcast-slice", 300*time.Millisecond, "broadcast load, second measure: duration of one short run")
	fs.IntVar(&c.listeners, "listeners", 10, "broadcast: WebSocket clients on the hub during the load")
	fs.IntVar(&c.clients, "clients", 1000, "fan-out: WebSocket clients")
	fs.IntVar(&c.connPar, "connect-parallelism", 32, "fan-out: clients connecting at once")
	fs.IntVar(&c.burst, "burst", 100, "fan-out: messages in the burst")
	fs.BoolVar(&c.fanoutUpstream, "fanout-upstream", true, "fan-out: the handler stays the emulator's upstream, so its chat hub announces every connect to every client (n²/2 presence events, delivered before the measured broadcasts); false runs the section on its own emulator without upstream")
	fs.DurationVar(&c.timeout, "timeout", 6*time.Minute, "overall limit of the run")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	c.sections = map[string]bool{}
	for _, s := range strings.Split(*sections, ",") {
		if s = strings.TrimSpace(s); s != "" {
			switch s {
			case "negotiate", "readiness", "tokens", "broadcast", "fanout", "memory", "upstream":
				c.sections[s] = true
			default:
				return c, fmt.Errorf("unknown section %q", s)
			}
		}
	}
	if c.negConc < 1 || c.bcConc < 1 || c.negRounds < 1 || c.bcRounds < 1 || c.bcSlices < 1 || c.starts < 1 || c.clients < 1 || c.connPar < 1 || c.burst < 1 || c.listeners < 0 {
		return c, errors.New("counts must be positive")
	}
	return c, nil
}

// report is the whole result; sections that did not run stay nil.
type report struct {
	Machine   machine          `json:"machine"`
	Negotiate *negotiateReport `json:"negotiate,omitempty"`
	Readiness *readinessReport `json:"readiness,omitempty"`
	Tokens    *goBenchReport   `json:"tokens,omitempty"`
	Broadcast *broadcastReport `json:"broadcast,omitempty"`
	Fanout    *fanoutReport    `json:"fanout,omitempty"`
	Memory    *memoryReport    `json:"memory,omitempty"`
	Upstream  *upstreamReport  `json:"upstream,omitempty"`
	// Failures are correctness failures (lost or reordered messages) and
	// sections that could not run; any makes the exit status non-zero.
	Failures []string `json:"failures,omitempty"`
	// Errors are sections that could not be measured (exit status stays 0
	// only when Failures is empty).
	Errors []string `json:"errors,omitempty"`
}

type machine struct {
	GOOS      string `json:"goos"`
	GOARCH    string `json:"goarch"`
	NumCPU    int    `json:"num_cpu"`
	GoVersion string `json:"go_version"`
	NoFile    uint64 `json:"rlimit_nofile"`
}

func run(args []string) int {
	cfg, err := parseFlags(args)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 2
	}
	out := io.Writer(os.Stdout)
	if cfg.jsonOut {
		out = os.Stderr
	}
	progress := func(s string) { fmt.Fprintf(os.Stderr, "bench: %s\n", s) }

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	defer stopAll()

	rep := &report{Machine: machine{GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, NumCPU: runtime.NumCPU(), GoVersion: runtime.Version()}}
	rep.Machine.NoFile = raiseNoFile(cfg.clients*2 + cfg.listeners*2 + 1024)

	fmt.Fprintf(out, "# functions-go benchmark — %s/%s, %d CPUs, %s, RLIMIT_NOFILE %d\n",
		runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version(), rep.Machine.NoFile)
	fmt.Fprintf(out, "# every ratio compares with a baseline measured in this same run; targets are goals, not gates\n\n")

	st, err := startStack(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}

	section := func(name string, f func() error) {
		if !cfg.sections[name] || ctx.Err() != nil {
			return
		}
		t0 := time.Now()
		progress(name + "…")
		if err := f(); err != nil || ctx.Err() != nil {
			if ctx.Err() != nil {
				err = context.Cause(ctx)
			}
			msg := fmt.Sprintf("%s: %v", name, err)
			rep.Errors = append(rep.Errors, msg)
			fmt.Fprintf(out, "!! %s\n\n", msg)
		}
		progress(fmt.Sprintf("%s done in %s", name, time.Since(t0).Round(100*time.Millisecond)))
	}
	section("negotiate", func() error {
		r, err := benchNegotiate(ctx, cfg, st, progress)
		if r != nil && ctx.Err() == nil {
			rep.Negotiate = r
			r.print(out)
		}
		return err
	})
	st.stopBaseline()
	section("readiness", func() error {
		r, err := benchReadiness(ctx, cfg, st)
		if r != nil && ctx.Err() == nil {
			rep.Readiness = r
			r.print(out)
		}
		return err
	})
	section("tokens", func() error {
		r, err := benchGo(ctx, cfg)
		if r != nil && ctx.Err() == nil {
			rep.Tokens = r
			r.print(out)
		}
		return err
	})
	section("broadcast", func() error {
		r, err := benchBroadcast(ctx, cfg, st, progress)
		if r != nil && ctx.Err() == nil {
			rep.Broadcast = r
			r.print(out)
			rep.Failures = append(rep.Failures, r.failures()...)
		}
		return err
	})
	section("fanout", func() error {
		r, err := benchFanout(ctx, cfg, st, progress)
		if r != nil && ctx.Err() == nil {
			rep.Fanout = r
			r.print(out)
			rep.Failures = append(rep.Failures, r.failures()...)
		}
		return err
	})
	section("memory", func() error {
		r, err := benchMemory(ctx, cfg, st, progress)
		if r != nil && ctx.Err() == nil {
			rep.Memory = r
			r.print(out)
			rep.Failures = append(rep.Failures, r.failures()...)
		}
		return err
	})
	section("upstream", func() error {
		r, err := benchUpstream(ctx, cfg, st, progress)
		if r != nil && ctx.Err() == nil {
			rep.Upstream = r
			r.print(out)
			rep.Failures = append(rep.Failures, r.failures()...)
		}
		return err
	})
	if ctx.Err() != nil {
		rep.Errors = append(rep.Errors, "run cut short: "+context.Cause(ctx).Error())
	}
	for _, p := range []*proc{st.handler, st.emulator} {
		if p != nil && p.exited() {
			rep.Errors = append(rep.Errors, p.failure().Error())
		}
	}

	if len(rep.Failures) > 0 {
		fmt.Fprintf(out, "RESULT: FAIL — %s\n", strings.Join(rep.Failures, "; "))
	} else if len(rep.Errors) > 0 {
		var firsts []string
		for _, e := range rep.Errors {
			first, _, _ := strings.Cut(e, "\n")
			firsts = append(firsts, first)
		}
		fmt.Fprintf(out, "RESULT: INCOMPLETE — %s\n", strings.Join(firsts, "; "))
	} else {
		fmt.Fprintln(out, "RESULT: OK — no message lost or reordered")
	}
	if cfg.jsonOut {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
	}
	switch {
	case len(rep.Failures) > 0:
		return 1
	case len(rep.Errors) > 0:
		return 1
	}
	return 0
}

// stack is the emulator, the handler wired to it, and the baseline server.
type stack struct {
	root, handlerPath, emulatorPath, self string
	emPort, hPort, blPort                 int
	connStr                               string
	emulator, handler, baseline           *proc
	log                                   *slog.Logger
}

func (s *stack) emBase() string { return "http://127.0.0.1:" + strconv.Itoa(s.emPort) }
func (s *stack) hBase() string  { return "http://127.0.0.1:" + strconv.Itoa(s.hPort) }
func (s *stack) blBase() string { return "http://127.0.0.1:" + strconv.Itoa(s.blPort) }

// handlerEnv is the environment the Functions host gives the handler, plus
// the settings of local.settings.json a developer would have, with HS256
// bearer verification on (anonymous callers stay allowed) for the
// authenticated negotiate.
func (s *stack) handlerEnv(port int) []string {
	return baseEnv(append([]string{"FUNCTIONS_CUSTOMHANDLER_PORT=" + strconv.Itoa(port), "AzureSignalRConnectionString=" + s.connStr,
		"LOG_LEVEL=warn", "AUTH_JWT_SECRET=" + benchJWTSecret}, authEnv()...)...)
}

func (s *stack) stopBaseline() {
	if s.baseline != nil {
		s.baseline.stop()
		s.baseline = nil
	}
}

// startStack starts the emulator, the handler and the baseline server and
// waits until each answers.
func startStack(ctx context.Context, cfg config) (*stack, error) {
	root, err := filepath.Abs(cfg.root)
	if err != nil {
		return nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	s := &stack{
		root:         root,
		handlerPath:  filepath.Join(root, cfg.handler),
		emulatorPath: filepath.Join(root, cfg.emulator),
		self:         self,
		log:          slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	for _, p := range []string{s.handlerPath, s.emulatorPath} {
		if fi, err := os.Stat(p); err != nil || fi.IsDir() {
			return nil, fmt.Errorf("%s is missing: run `make build` first (make bench does)", p)
		}
	}
	if s.emPort, err = freePort(); err != nil {
		return nil, err
	}
	s.connStr = "Endpoint=http://127.0.0.1;Port=" + strconv.Itoa(s.emPort) + ";AccessKey=" + devKey + ";Version=1.0;"
	if s.hPort, err = freePort(); err != nil {
		return nil, err
	}
	// The handler is the emulator's upstream (the upstream section).
	s.emulator, err = startProc("emulator", s.emulatorPath,
		[]string{"-addr", "127.0.0.1:" + strconv.Itoa(s.emPort), "-key", devKey, "-log-level", "warn",
			"-upstream", s.hBase() + "/api/upstream"}, baseEnv())
	if err != nil {
		return nil, err
	}
	if err := waitReady(ctx, s.emulator, "GET", s.emBase()+"/api/health", 10*time.Second); err != nil {
		return nil, err
	}
	s.handler, err = startProc("handler", s.handlerPath, nil, s.handlerEnv(s.hPort))
	if err != nil {
		return nil, err
	}
	if err := waitReady(ctx, s.handler, "GET", s.hBase()+"/", 10*time.Second); err != nil {
		return nil, err
	}
	if s.blPort, err = freePort(); err != nil {
		return nil, err
	}
	s.baseline, err = startProc("baseline server", s.self, []string{"baseline-server"},
		baseEnv("FUNCTIONS_CUSTOMHANDLER_PORT="+strconv.Itoa(s.blPort)))
	if err != nil {
		return nil, err
	}
	if err := waitReady(ctx, s.baseline, "GET", s.blBase()+"/", 10*time.Second); err != nil {
		return nil, err
	}
	return s, nil
}

// raiseNoFile raises the soft RLIMIT_NOFILE to at least want (up to the
// hard limit) so that the fan-out clients and the emulator have enough
// descriptors. It always calls Setrlimit: the Go runtime raises its own soft
// limit at start-up but hands children the original one unless the program
// set the limit itself. It returns the resulting soft limit.
func raiseNoFile(want int) uint64 {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0
	}
	lim.Cur = max(lim.Cur, min(uint64(want), lim.Max))
	_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
	return lim.Cur
}

// trimFloat formats v with prec decimals.
func trimFloat(v float64, prec int) string { return strconv.FormatFloat(v, 'f', prec, 64) }

// verdict is the text for a ratio against a target.
func verdict(ok bool) string {
	if ok {
		return "PASS"
	}
	return "BELOW TARGET"
}
