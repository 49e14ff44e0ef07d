package doctor

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/serverless-signalr/functions-go/internal/apperr"
	"github.com/serverless-signalr/functions-go/internal/textutil"
	"github.com/serverless-signalr/functions-go/signalr"
)

// The newest data-plane operations are not offered by every service (the
// api-version rolls out region by region; the Free tier may lag), and a
// service without one answers a plain 404: no x-ms-error-code, the same as
// a wrong route. The doctor probes each with a call that changes nothing
// and tells the two apart:
//
//   - :execute (2023-07-01, the handler's broadcast filter) with the
//     filter "false" (no connection) and a JoinGroup command;
//   - the group listing (2024-12-01, presence) of a group nobody is in;
//   - :invoke (2024-12-01, client results) on a connection that does not
//     exist: a service with the operation answers 404 with
//     Error.Connection.NotExisted, one without it a plain 404.

// probeGroup is the group the probes name; nobody is in it.
const probeGroup = "doctor-probe"

// checkAPIVersions runs the three probes against one endpoint's client.
func (r *runner) checkAPIVersions(ctx context.Context, label string, client *signalr.Client, rec *restRecorder) {
	hub := strings.ToLower(r.cfg.HubName)
	probe := func(check, what, version string, call func(context.Context) error) {
		cctx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
		err := call(cctx)
		cancel()
		target, _ := rec.last()
		r.add(apiVersionFinding(check+" "+label, what, version, err, map[string]string{"url": target}))
	}
	probe("api filters", "filtered sends and group joins (POST /api/hubs/{hub}/:execute)", signalr.APIVersion20230701, func(ctx context.Context) error {
		_, err := client.Execute(ctx, hub, []signalr.Command{signalr.JoinGroupCommand(probeGroup)}, &signalr.ExecuteOptions{Filter: "false"})
		return err
	})
	probe("api presence", "group listing (GET /api/hubs/{hub}/groups/{group}/connections)", signalr.APIVersion20241201, func(ctx context.Context) error {
		_, err := client.NewListConnectionsInGroupPager(hub, probeGroup, nil).NextPage(ctx)
		return err
	})
	probe("api invoke", "client results (POST /api/hubs/{hub}/connections/{id}/:invoke)", signalr.APIVersion20241201, func(ctx context.Context) error {
		_, err := client.Invoke(ctx, hub, probeConnection, signalr.Message{Target: "doctorProbe"}, nil)
		if connectionNotExisted(err) {
			return nil // the operation exists; the probe connection does not
		}
		return err
	})
}

// connectionNotExisted reports the service's 404 for an unknown connection.
func connectionNotExisted(err error) bool {
	var re *signalr.ResponseError
	return errors.As(err, &re) && re.StatusCode == http.StatusNotFound && strings.Contains(re.ErrorCode, "Connection.NotExisted")
}

// apiVersionFinding judges one probe: a plain 404 means the service does
// not offer the api-version (a WARN: the handler works, the features that
// need it do not).
func apiVersionFinding(check, what, version string, err error, d map[string]string) Finding {
	d["apiVersion"] = version
	var re *signalr.ResponseError
	switch {
	case err == nil:
		return finding(check, Pass, "", what+" is offered (api-version "+version+")", "", d)
	case errors.As(err, &re) && re.StatusCode == http.StatusNotFound && re.ErrorCode == "":
		return finding(check, Warn, apperr.CodeServiceFeatureMissing,
			fmt.Sprintf("the service answered 404 to %s, api-version %s: this service (its region or tier) does not offer that api-version yet, so the handler's features that need it answer service.feature_unavailable (the route itself is right)", what, version),
			"Check which regions and tiers have api-version "+version+" (Azure updates, the REST API reference); meanwhile develop against the emulator (make dev) or do without the feature.", d)
	}
	e := apperr.FromSignalR(err)
	if re != nil && re.ErrorCode != "" {
		d["errorCode"] = textutil.Clean(re.ErrorCode, 100)
	}
	return finding(check, Warn, e.Code, fmt.Sprintf("probing %s (api-version %s) failed: %s", what, version, textutil.Clean(err.Error(), 300)), "", d)
}
