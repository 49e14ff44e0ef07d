package doctor_test

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/serverless-signalr/functions-go/emulator"
	"github.com/serverless-signalr/functions-go/internal/apperr"
	"github.com/serverless-signalr/functions-go/internal/doctor"
)

var apiChecks = []string{"api filters default", "api presence default", "api invoke default"}

func TestAPIVersionsOffered(t *testing.T) {
	t.Parallel()
	svc := newFakeService(t, testKey)
	fs := doctor.Run(context.Background(), options(writeApp(t, nil), baseConfig(t, connStr(svc.srv.URL, testKey))))
	for _, c := range apiChecks {
		if f := get(t, fs, c); f.Status != doctor.Pass || f.Details["apiVersion"] == "" {
			t.Errorf("%s", f)
		}
	}
}

// A service without the newest api-versions answers a plain 404: the
// doctor says so instead of letting it read as a wrong route.
func TestAPIVersionsMissingExplained(t *testing.T) {
	t.Parallel()
	svc := newFakeService(t, testKey)
	svc.noNewest = true
	fs := doctor.Run(context.Background(), options(writeApp(t, nil), baseConfig(t, connStr(svc.srv.URL, testKey))))
	for i, c := range apiChecks {
		f := get(t, fs, c)
		version := []string{"2023-07-01", "2024-12-01", "2024-12-01"}[i]
		if f.Status != doctor.Warn || f.Code != apperr.CodeServiceFeatureMissing || !strings.Contains(f.Message, "api-version "+version) ||
			!strings.Contains(f.Message, "region or tier") || !strings.Contains(f.Fix, "emulator") {
			t.Errorf("%s", f)
		}
	}
	if doctor.Failed(fs) {
		t.Errorf("a missing optional api-version fails the doctor:\n%s", dump(fs))
	}
}

// The emulator offers every operation; its 404 for the probe connection of
// :invoke carries Error.Connection.NotExisted, which means "offered".
func TestAPIVersionsAgainstEmulator(t *testing.T) {
	t.Parallel()
	em := emulator.New(emulator.Options{AccessKey: testKey, Logger: slog.New(slog.DiscardHandler)})
	srv := httptest.NewServer(em)
	t.Cleanup(func() { em.Close(); srv.Close() })
	fs := doctor.Run(context.Background(), options(writeApp(t, nil), baseConfig(t, em.ConnectionString(srv.URL))))
	for _, c := range apiChecks {
		if f := get(t, fs, c); f.Status != doctor.Pass {
			t.Errorf("%s", f)
		}
	}
}
