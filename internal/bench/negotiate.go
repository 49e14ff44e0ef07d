package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Throughput goals (issue 14): every negotiate ≥ 0.85 × the static
// ceiling; an authenticated one also ≥ 0.90 × the anonymous one.
const (
	negotiateTarget     = 0.85
	negotiateAuthTarget = 0.90
)

// The bearer tokens of the authenticated runs: HS256 with issuer, audience
// and the three claim types the handler copies (SIGNALR_CLAIM_TYPES).
const (
	benchJWTSecret  = "bench-secret-0123456789-0123456789-0123456789"
	benchIssuer     = "https://idp.bench.example/"
	benchAudience   = "api://bench"
	benchClaimTypes = "name,role,email"
	benchUser       = "bench-user"
)

// authEnv are the identity settings of the handlers under test; anonymous
// callers stay allowed, so the anonymous run uses the same handler.
func authEnv() []string {
	return []string{"AUTH_JWT_ISSUER=" + benchIssuer, "AUTH_JWT_AUDIENCE=" + benchAudience, "SIGNALR_CLAIM_TYPES=" + benchClaimTypes}
}

// negotiateReport compares the handler's negotiate with the baseline.
type negotiateReport struct {
	Concurrency int     `json:"concurrency"`
	DurationS   float64 `json:"duration_s"`
	// Targets are the measured paths: handler (anonymous), handler-hs256,
	// handler-rs256, handler-es256 (JWKS) and the baseline, each with its
	// runs, in that order.
	Targets []negotiatePath `json:"targets"`
	// Ratio is best anonymous req/s over best baseline req/s.
	Ratio float64 `json:"ratio_rps"`
	// LatencyRatio is anonymous p50 over baseline p50 (of the same best runs).
	LatencyRatio float64 `json:"ratio_p50"`
	// AuthRatio and AuthVsAnon are the HS256 run over the baseline and over
	// the anonymous run.
	AuthRatio  float64 `json:"ratio_rps_hs256"`
	AuthVsAnon float64 `json:"ratio_rps_hs256_vs_anonymous"`
	// PairedAuthVsAnon is AuthVsAnon paired by round (see negotiatePath).
	PairedAuthVsAnon float64   `json:"paired_ratio_rps_hs256_vs_anonymous"`
	RoundsAuthVsAnon []float64 `json:"round_ratios_rps_hs256_vs_anonymous,omitempty"`
	Pass             bool      `json:"pass"`
}

// negotiatePath is one measured path.
type negotiatePath struct {
	Name  string       `json:"name"`
	Runs  []loadResult `json:"runs"`
	Ratio float64      `json:"ratio_rps"` // best req/s over the baseline's best
	// Paired is the median over rounds of the run over the same round's
	// baseline run (Rounds: each round's), a check against drift.
	Paired float64   `json:"paired_ratio_rps"`
	Rounds []float64 `json:"round_ratios_rps,omitempty"`
}

// benchNegotiate loads POST /api/negotiate?negotiateVersion=1 (empty body,
// as @microsoft/signalr sends it) on the handler — anonymous, with an HS256
// bearer, and on a second handler verifying with a JWKS (RS256, ES256) —
// and on the baseline server, with the same closed-loop generator,
// alternating. Every path is checked once first (a real token for the
// bearer's user with the three claims), so a broken handler is not
// measured as a fast one. The bearer tokens are the same on every request:
// the handler's cache of verified tokens answers them after the first, as
// for a client that reconnects; the cost of a first verification is the
// BenchmarkResolveHS256Uncached figure of the micro-benchmarks.
func benchNegotiate(ctx context.Context, cfg config, st *stack, progress func(string)) (*negotiateReport, error) {
	path := "/api/negotiate?negotiateVersion=1"
	hs, err := mintBench(jwt.SigningMethodHS256, []byte(benchJWTSecret), "")
	if err != nil {
		return nil, err
	}
	jw, err := startJWKSHandler(ctx, st)
	if err != nil {
		return nil, err
	}
	defer jw.stop()

	type target struct {
		name, base, token string
	}
	paths := []target{
		{"handler", st.hBase(), ""},
		{"handler-hs256", st.hBase(), hs},
		{"handler-rs256", jw.base, jw.rs},
		{"handler-es256", jw.base, jw.es},
	}
	var ops []namedOp
	var clients []*http.Client
	for _, p := range paths {
		c := &http.Client{Transport: newLoadTransport(cfg.negConc)}
		clients = append(clients, c)
		if err := checkBenchNegotiate(ctx, c, p.base+path, p.token); err != nil {
			return nil, fmt.Errorf("%s: %w", p.name, err)
		}
		ops = append(ops, namedOp{p.name, bearerOp(c, p.base+path, p.token)})
	}
	bc := &http.Client{Transport: newLoadTransport(cfg.negConc)}
	clients = append(clients, bc)
	ops = append(ops, namedOp{"baseline", httpOp(bc, "POST", st.blBase()+path, nil, nil, http.StatusOK)})
	defer func() {
		for _, c := range clients {
			c.CloseIdleConnections()
		}
	}()

	runs := alternate(ctx, ops, cfg.negRounds, cfg.negConc, cfg.negDur, cfg.warm, false, progress)
	r := &negotiateReport{Concurrency: cfg.negConc, DurationS: cfg.negDur.Seconds()}
	base := best(runs[len(runs)-1])
	for i, op := range ops {
		t := negotiatePath{Name: op.name, Runs: runs[i]}
		if base.RPS > 0 {
			t.Ratio = best(runs[i]).RPS / base.RPS
		}
		t.Paired, t.Rounds = pairedRPS(runs[i], runs[len(runs)-1])
		r.Targets = append(r.Targets, t)
	}
	anon, auth := best(runs[0]), best(runs[1])
	r.Ratio, r.AuthRatio = r.Targets[0].Ratio, r.Targets[1].Ratio
	if anon.RPS > 0 {
		r.AuthVsAnon = auth.RPS / anon.RPS
	}
	r.PairedAuthVsAnon, r.RoundsAuthVsAnon = pairedRPS(runs[1], runs[0])
	if base.Latency.P50 > 0 {
		r.LatencyRatio = float64(anon.Latency.P50) / float64(base.Latency.P50)
	}
	r.Pass = r.Ratio >= negotiateTarget && r.AuthRatio >= negotiateTarget && r.AuthVsAnon >= negotiateAuthTarget
	for _, t := range r.Targets {
		for _, x := range t.Runs {
			if x.Errors > 0 {
				return r, fmt.Errorf("%s: %d failed requests (first: %s)", x.Name, x.Errors, x.FirstError)
			}
		}
	}
	return r, nil
}

// bearerOp POSTs an empty body with "Authorization: Bearer token" (none
// when token is "") and requires 200.
func bearerOp(client *http.Client, url, token string) op {
	var h http.Header
	if token != "" {
		h = http.Header{"Authorization": {"Bearer " + token}}
	}
	return httpOp(client, "POST", url, h, nil, http.StatusOK)
}

// checkBenchNegotiate requires a 200 answer whose client token carries the
// bearer's user id and its three claims (or no user id when anonymous).
func checkBenchNegotiate(ctx context.Context, c *http.Client, url, token string) error {
	req, err := http.NewRequestWithContext(ctx, "POST", url, nil)
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var nr negotiateResp
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&nr); err != nil || resp.StatusCode != http.StatusOK {
		return fmt.Errorf("negotiate: status %d (%v)", resp.StatusCode, err)
	}
	parts := strings.Split(nr.AccessToken, ".")
	if len(parts) != 3 {
		return errors.New("negotiate: the access token is not a JWT")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return err
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		return err
	}
	uid, _ := claims["asrs.s.uid"].(string)
	switch {
	case token == "" && uid != "":
		return fmt.Errorf("anonymous negotiate got user %q", uid)
	case token != "" && (uid != benchUser || claims["name"] != "Bench User" || claims["role"] != "tester" || claims["email"] != "bench@example.com"):
		return fmt.Errorf("authenticated negotiate: token claims %v lack the user or the three claim types", claims)
	}
	return nil
}

// mintBench signs the bench user's bearer token.
func mintBench(m jwt.SigningMethod, key any, kid string) (string, error) {
	now := time.Now()
	t := jwt.NewWithClaims(m, jwt.MapClaims{
		"sub": benchUser, "iss": benchIssuer, "aud": benchAudience, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		"name": "Bench User", "role": "tester", "email": "bench@example.com", "tid": "not-copied",
	})
	if kid != "" {
		t.Header["kid"] = kid
	}
	return t.SignedString(key)
}

// jwksHandler is a second handler process verifying bearer tokens with a
// JWKS that the bench serves on loopback, and RS256/ES256 tokens for it.
type jwksHandler struct {
	base, rs, es string
	srv          *http.Server
	p            *proc
}

func (j *jwksHandler) stop() {
	if j.p != nil {
		j.p.stop()
	}
	if j.srv != nil {
		j.srv.Close()
	}
}

func startJWKSHandler(ctx context.Context, st *stack) (*jwksHandler, error) {
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	b64 := base64.RawURLEncoding.EncodeToString
	ecdhKey, err := ek.PublicKey.ECDH()
	if err != nil {
		return nil, err
	}
	pt := ecdhKey.Bytes() // 0x04 || X || Y
	jwks, _ := json.Marshal(map[string]any{"keys": []map[string]string{
		{"kty": "RSA", "kid": "rsa-1", "use": "sig", "alg": "RS256", "n": b64(rk.N.Bytes()), "e": b64(big.NewInt(int64(rk.E)).Bytes())},
		{"kty": "EC", "kid": "ec-1", "use": "sig", "alg": "ES256", "crv": "P-256", "x": b64(pt[1:33]), "y": b64(pt[33:])},
	}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	j := &jwksHandler{srv: &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(jwks)
	})}}
	go j.srv.Serve(ln)
	if j.rs, err = mintBench(jwt.SigningMethodRS256, rk, "rsa-1"); err != nil {
		j.stop()
		return nil, err
	}
	if j.es, err = mintBench(jwt.SigningMethodES256, ek, "ec-1"); err != nil {
		j.stop()
		return nil, err
	}
	j.p, j.base, err = startServer(ctx, "handler (JWKS)", st.handlerPath, nil, func(port int) []string {
		return append(baseEnv("FUNCTIONS_CUSTOMHANDLER_PORT="+strconv.Itoa(port), "AzureSignalRConnectionString="+st.connStr, "LOG_LEVEL=warn",
			"AUTH_JWKS_URL=http://"+ln.Addr().String()+"/keys"), authEnv()...)
	})
	if err != nil {
		j.stop()
		return nil, err
	}
	return j, nil
}

func (r *negotiateReport) print(w io.Writer) {
	fmt.Fprintf(w, "## 1. Negotiate throughput (POST /api/negotiate?negotiateVersion=1, empty body)\n")
	fmt.Fprintf(w, "closed loop, %d keep-alive workers, %.0f s per run, runs alternated, best run of each counted\n", r.Concurrency, r.DurationS)
	fmt.Fprintf(w, "baseline: bare net/http process returning a fixed negotiate JSON (200-char token)\n")
	fmt.Fprintf(w, "bearer runs: one token per path (iss, aud, %s copied), answered from the verified-token cache after the first\n\n", benchClaimTypes)
	fmt.Fprintf(w, "  %-14s %-5s %10s %10s %10s %10s\n", "target", "run", "req/s", "p50", "p99", "max")
	for _, t := range r.Targets {
		for i, x := range t.Runs {
			fmt.Fprintf(w, "  %-14s %-5d %10.0f %10s %10s %10s\n", t.Name, i+1, x.RPS, ms(x.Latency.P50), ms(x.Latency.P99), ms(x.Latency.Max))
		}
	}
	fmt.Fprintln(w)
	for _, t := range r.Targets[:len(r.Targets)-1] {
		fmt.Fprintf(w, "  %-14s / baseline throughput: %.2f (target ≥ %.2f); paired by round: median %.2f (%s)\n", t.Name, t.Ratio, negotiateTarget, t.Paired, ratios(t.Rounds))
	}
	fmt.Fprintf(w, "  handler-hs256 / anonymous throughput: %.2f (target ≥ %.2f); paired by round: median %.2f (%s);  anonymous p50 latency ratio: %.2f;  %s\n\n",
		r.AuthVsAnon, negotiateAuthTarget, r.PairedAuthVsAnon, ratios(r.RoundsAuthVsAnon), r.LatencyRatio, verdict(r.Pass))
}

// pairedRPS pairs the runs of two paths by round: the median of a's req/s
// over b's, and each round's ratio.
func pairedRPS(a, b []loadResult) (float64, []float64) {
	return pairedMedian(min(len(a), len(b)), func(i int) float64 {
		if b[i].RPS > 0 {
			return a[i].RPS / b[i].RPS
		}
		return 0
	})
}
