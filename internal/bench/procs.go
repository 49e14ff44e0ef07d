package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// stopTimeout is how long a child gets after SIGTERM before SIGKILL.
const stopTimeout = 5 * time.Second

// proc is a child process the benchmark started and must stop.
type proc struct {
	name string
	cmd  *exec.Cmd
	out  *tailBuffer
	done chan struct{}
	err  error // set before done is closed
}

// children are every started, not yet stopped process; stopAll ends them.
var children struct {
	sync.Mutex
	m map[*proc]struct{}
}

// startProc starts path with args and exactly env (no inherited
// environment), its output kept in a bounded buffer.
func startProc(name, path string, args, env []string) (*proc, error) {
	p := &proc{name: name, out: &tailBuffer{max: 32 << 10}, done: make(chan struct{})}
	p.cmd = exec.Command(path, args...)
	p.cmd.Env = env
	p.cmd.Stdout = p.out
	p.cmd.Stderr = p.out
	p.cmd.SysProcAttr = childAttr()
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	children.Lock()
	if children.m == nil {
		children.m = map[*proc]struct{}{}
	}
	children.m[p] = struct{}{}
	children.Unlock()
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM, waits up to stopTimeout, then kills. It is safe to
// call more than once.
func (p *proc) stop() {
	if !p.exited() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(stopTimeout):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	}
	children.Lock()
	delete(children.m, p)
	children.Unlock()
}

// kill ends the process at once (used between readiness starts, where the
// graceful shutdown is not what is measured).
func (p *proc) kill() {
	if !p.exited() {
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	children.Lock()
	delete(children.m, p)
	children.Unlock()
}

// failure describes an unexpected exit with the tail of the output.
func (p *proc) failure() error {
	return fmt.Errorf("%s exited (%v); last output:\n%s", p.name, p.err, p.out.String())
}

// stopAll stops every child still running, in parallel.
func stopAll() {
	children.Lock()
	list := make([]*proc, 0, len(children.m))
	for p := range children.m {
		list = append(list, p)
	}
	children.Unlock()
	var wg sync.WaitGroup
	for _, p := range list {
		wg.Go(p.stop)
	}
	wg.Wait()
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if over := len(t.b) - t.max; over > 0 {
		t.b = append(t.b[:0], t.b[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(bytes.TrimSpace(t.b))
}

// freePort returns a loopback port that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// baseEnv is the environment of every child: PATH, HOME and TMPDIR only,
// so that settings of the caller's shell do not change what is measured.
func baseEnv(extra ...string) []string {
	env := []string{}
	for _, k := range []string{"PATH", "HOME", "TMPDIR"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return append(env, extra...)
}

// startServer starts a child serving on a free loopback port (env gets
// the port) and waits until GET / answers 200; base is its URL. The
// caller stops the child.
func startServer(ctx context.Context, name, path string, args []string, env func(port int) []string) (p *proc, base string, err error) {
	port, err := freePort()
	if err != nil {
		return nil, "", err
	}
	if p, err = startProc(name, path, args, env(port)); err != nil {
		return nil, "", err
	}
	base = "http://127.0.0.1:" + strconv.Itoa(port)
	if err := waitReady(ctx, p, "GET", base+"/", 10*time.Second); err != nil {
		p.stop()
		return nil, "", err
	}
	return p, base, nil
}

// waitReady polls method url every 5 ms until it answers 200, p exits, ctx
// ends or timeout passes.
func waitReady(ctx context.Context, p *proc, method, url string, timeout time.Duration) error {
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}}
	deadline := time.Now().Add(timeout)
	for {
		req, err := http.NewRequestWithContext(ctx, method, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if p.exited() {
			return p.failure()
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not answer 200 at %s within %s; last output:\n%s", p.name, url, timeout, p.out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}
