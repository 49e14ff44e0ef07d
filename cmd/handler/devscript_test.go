package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/serverless-signalr/functions-go/internal/testutil"
)

// devScript prepares scripts/dev.sh (make dev) on random loopback ports
// with the test's handler and a freshly built emulator.
func devScript(t *testing.T, handlerPort, emulatorPort string) *exec.Cmd {
	t.Helper()
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("dev.sh needs curl")
	}
	emu := filepath.Join(t.TempDir(), "signalr-emulator")
	if out, err := exec.Command("go", "build", "-o", emu, "../signalr-emulator").CombinedOutput(); err != nil {
		t.Fatalf("building the emulator: %v\n%s", err, out)
	}
	cmd := exec.Command("bash", filepath.Join(repoRoot(t), "scripts", "dev.sh"))
	cmd.Env = append(os.Environ(), "HANDLER_BIN="+handlerBin, "EMULATOR_BIN="+emu,
		"HANDLER_PORT="+handlerPort, "EMULATOR_ADDR=127.0.0.1:"+emulatorPort)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // a terminal's process group
	return cmd
}

// TestDevScriptCtrlC: make dev's script starts the stack, says where to
// open the chat page, and on Ctrl-C (SIGINT to its process group, as a
// terminal sends it) stops both and exits 0 without reporting a crash.
func TestDevScriptCtrlC(t *testing.T) {
	hp, ep := freePort(t), freePort(t)
	cmd := devScript(t, hp, ep)
	out := &testutil.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var waitErr error
	exited := make(chan struct{}) // closed when dev.sh has exited; waitErr is then set
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		// The script starts the handler and the emulator in their own
		// sessions, so killing its process group would leave them running
		// when the test fails: SIGTERM first lets its EXIT trap stop both.
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
		}
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	})

	open := "Open http://localhost:" + hp + "/chat/"
	said := make(chan bool, 1)
	go func() { said <- out.Await(open, 20*time.Second) }()
	select {
	case ok := <-said:
		if !ok {
			t.Fatalf("no %q within 20s:\n%s", open, out)
		}
	case <-exited:
		t.Fatalf("dev.sh exited early (%v):\n%s", waitErr, out)
	}
	resp, err := http.Get("http://127.0.0.1:" + hp + "/chat/")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("chat page: %v %v", resp, err)
	}
	resp.Body.Close()

	syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
	select {
	case <-exited:
		if waitErr != nil {
			t.Errorf("dev.sh after Ctrl-C: %v (want exit 0)\n%s", waitErr, out)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("dev.sh did not stop within 20s of Ctrl-C:\n%s", out)
	}
	if s := out.String(); strings.Contains(s, "exited") || strings.Contains(s, "panic") || !strings.Contains(s, "dev: stopping") {
		t.Errorf("output after Ctrl-C:\n%s", s)
	}
	for _, p := range []string{hp, ep} {
		if c, err := net.DialTimeout("tcp", "127.0.0.1:"+p, time.Second); err == nil {
			c.Close()
			t.Errorf("port %s still served after dev.sh stopped", p)
		}
	}
}

// TestDevScriptBusyPort: with the handler's or the emulator's port already
// taken, dev.sh says which port and starts nothing (and never prints
// "Open ..." for a stack it did not start).
func TestDevScriptBusyPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	_, busy, _ := net.SplitHostPort(ln.Addr().String())
	for _, tc := range []struct{ name, hp, ep string }{
		{"handler", busy, freePort(t)},
		{"emulator", freePort(t), busy},
	} {
		cmd := devScript(t, tc.hp, tc.ep)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		cmd2 := exec.CommandContext(ctx, cmd.Path, cmd.Args[1:]...)
		cmd2.Env = cmd.Env
		b, err := cmd2.CombinedOutput()
		cancel()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 {
			t.Errorf("%s port busy: dev.sh = %v, want exit 1\n%s", tc.name, err, b)
		}
		s := string(b)
		if !strings.Contains(s, "port "+busy+" (the "+tc.name+"'s") || !strings.Contains(s, "already in use") || strings.Contains(s, "Open http") {
			t.Errorf("%s port busy: output\n%s", tc.name, s)
		}
	}
}
