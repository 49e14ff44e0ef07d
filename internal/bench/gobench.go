package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"github.com/serverless-signalr/functions-go/internal/textutil"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// goBenchTimeout bounds the whole micro-benchmark section (build included).
const goBenchTimeout = 150 * time.Second

// benchFunc finds benchmark functions in a test file.
var benchFunc = regexp.MustCompile(`(?m)^func (Benchmark\w*)\(\w+ \*testing\.B\)`)

// goBenchReport is the output of go test -bench for every package of the
// module that has benchmarks.
type goBenchReport struct {
	BenchTime string        `json:"benchtime"`
	Packages  []string      `json:"packages"`
	Results   []goBenchLine `json:"results"`
	// Skipped are packages whose benchmarks did not build or failed (work
	// in progress elsewhere does not stop the report).
	Skipped []string `json:"skipped,omitempty"`
}

// goBenchLine is one benchmark result.
type goBenchLine struct {
	Package     string  `json:"package"`
	Name        string  `json:"name"`
	N           int64   `json:"n"`
	NsPerOp     float64 `json:"ns_per_op"`
	BytesPerOp  int64   `json:"bytes_per_op"`
	AllocsPerOp int64   `json:"allocs_per_op"`
}

// benchPackages lists the module's packages (as ./dir) whose test files
// declare Benchmark functions.
func benchPackages(root string) ([]string, error) {
	set := map[string]bool{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if p != root && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" || name == "node_modules" || name == "vendor") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if benchFunc.Match(b) {
			rel, err := filepath.Rel(root, filepath.Dir(p))
			if err != nil {
				return err
			}
			set["./"+filepath.ToSlash(rel)] = true
		}
		return nil
	})
	pkgs := make([]string, 0, len(set))
	for p := range set {
		pkgs = append(pkgs, p)
	}
	slices.Sort(pkgs)
	return pkgs, err
}

// benchGo runs every benchmark of the module, one package at a time.
func benchGo(ctx context.Context, cfg config) (*goBenchReport, error) {
	ctx, cancel := context.WithTimeout(ctx, goBenchTimeout)
	defer cancel()
	root, err := filepath.Abs(cfg.root)
	if err != nil {
		return nil, err
	}
	pkgs, err := benchPackages(root)
	if err != nil {
		return nil, err
	}
	r := &goBenchReport{BenchTime: cfg.benchTime, Packages: pkgs}
	for _, pkg := range pkgs {
		cmd := exec.CommandContext(ctx, "go", "test", "-run", "^$", "-bench", ".", "-benchmem",
			"-benchtime", cfg.benchTime, "-count", "1", "-timeout", "120s", pkg)
		cmd.Dir = root
		cmd.WaitDelay = 5 * time.Second
		var out bytes.Buffer
		cmd.Stdout = &out
		cmd.Stderr = &out
		err := cmd.Run()
		lines := parseBench(pkg, &out)
		r.Results = append(r.Results, lines...)
		if err != nil {
			r.Skipped = append(r.Skipped, fmt.Sprintf("%s (%v: %s)", pkg, err, lastLine(out.String())))
		}
		if ctx.Err() != nil {
			return r, fmt.Errorf("micro-benchmarks cut short after %s", goBenchTimeout)
		}
	}
	return r, nil
}

// parseBench reads the result lines of go test -bench -benchmem.
func parseBench(pkg string, r io.Reader) []goBenchLine {
	var out []goBenchLine
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		l := goBenchLine{Package: pkg, Name: f[0]}
		l.N, _ = strconv.ParseInt(f[1], 10, 64)
		for i := 2; i+1 < len(f); i += 2 {
			switch f[i+1] {
			case "ns/op":
				l.NsPerOp, _ = strconv.ParseFloat(f[i], 64)
			case "B/op":
				l.BytesPerOp, _ = strconv.ParseInt(f[i], 10, 64)
			case "allocs/op":
				l.AllocsPerOp, _ = strconv.ParseInt(f[i], 10, 64)
			}
		}
		if l.NsPerOp > 0 {
			out = append(out, l)
		}
	}
	return out
}

// lastLine returns the last lines of s that say something (up to 300
// characters), for the reason a package was skipped.
func lastLine(s string) string {
	var keep []string
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		l = strings.TrimSpace(l)
		if l != "" && !strings.HasPrefix(l, "FAIL") && !strings.HasPrefix(l, "ok ") {
			keep = append(keep, l)
		}
	}
	if len(keep) > 3 {
		keep = keep[len(keep)-3:]
	}
	return textutil.Truncate(strings.Join(keep, " | "), 300)
}

func (r *goBenchReport) print(w io.Writer) {
	fmt.Fprintf(w, "## 3. Micro-benchmarks (go test -run '^$' -bench . -benchmem -benchtime %s, packages: %s)\n\n", r.BenchTime, strings.Join(r.Packages, " "))
	fmt.Fprintf(w, "  %-10s %-44s %12s %14s %10s %12s\n", "package", "benchmark", "n", "ns/op", "B/op", "allocs/op")
	for _, l := range r.Results {
		fmt.Fprintf(w, "  %-10s %-44s %12d %14.1f %10d %12d\n", l.Package, l.Name, l.N, l.NsPerOp, l.BytesPerOp, l.AllocsPerOp)
	}
	for _, s := range r.Skipped {
		fmt.Fprintf(w, "  skipped: %s\n", s)
	}
	fmt.Fprintln(w)
}
