package emulator

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// REST api-version: required on every /api/ operation but the legacy
// /api/v1/ paths (which have none) and health (probed by load balancers
// without one), and it must be a version the service publishes: the ones
// with public swagger or examples in Azure/azure-signalr docs/swagger
// (V20220601.json, HubProxyV20221101_*, V20230701.json, v20241201.json).
// An operation added in a later version needs at least that version.
//
// The exact status and body the service answers for a missing or unknown
// version are not in its public sources; the emulator answers 400 with
// Error.InvalidRequest, target "api-version", and a message listing the
// versions, in the service's ErrorDetail shape.

// apiVersions are the api-version values the emulator accepts, oldest first.
var apiVersions = []string{"2022-06-01", "2022-11-01", "2023-07-01", "2024-12-01"}

// minAPIVersion is the first version of operations newer than 2022-06-01.
func minAPIVersion(op restOp) string {
	switch op {
	case opGenerateToken:
		return "2022-11-01"
	case opAccessKey, opExecute:
		return "2023-07-01"
	case opInvoke, opStreamSend, opStreamComplete, opListGroup:
		return "2024-12-01"
	}
	return apiVersions[0]
}

// checkAPIVersion answers 400 and reports false when the request's
// api-version does not allow rt.
func checkAPIVersion(w http.ResponseWriter, r *http.Request, rt restRoute) bool {
	if rt.legacy || rt.op == opHealth {
		return true
	}
	vals := r.URL.Query()["api-version"]
	list := strings.Join(apiVersions, ", ")
	var msg string
	switch {
	case len(vals) == 0 || vals[0] == "":
		msg = "the api-version query parameter is required (for example ?api-version=2022-06-01); versions: " + list + " (the legacy /api/v1/ paths take none)"
	case len(vals) > 1:
		msg = "api-version must appear once"
	case !slices.Contains(apiVersions, vals[0]):
		msg = fmt.Sprintf("unsupported api-version %q; versions: %s", vals[0], list)
	case vals[0] < minAPIVersion(rt.op):
		msg = fmt.Sprintf("this operation needs api-version %s or later (got %s)", minAPIVersion(rt.op), vals[0])
	default:
		return true
	}
	writeError(w, r, http.StatusBadRequest, codeInvalidRequest, "api-version", msg)
	return false
}

// legacyStatus is the success status of rt: the v1 API answers 202 where
// later versions answer 200 or 204 (docs/swagger/v1.json: group membership
// changes and closing a connection).
func legacyStatus(rt restRoute, status int) int {
	if !rt.legacy {
		return status
	}
	switch rt.op {
	case opConnJoinGroup, opConnLeaveGroup, opUserJoinGroup, opUserLeaveGroup, opUserLeaveAll, opCloseConn:
		return http.StatusAccepted
	}
	return status
}
