package server

import (
	"net/http"
	"strconv"
	"sync"

	"github.com/serverless-signalr/functions-go/internal/textutil"
)

// The broadcast summary is on every broadcast's path, so it is written by
// hand instead of through encoding/json's reflection; the output is byte
// for byte what json.Marshal writes for the same values
// (TestSummaryJSONMatchesEncodingJSON).

// appendJSON appends r as JSON.
func (r *broadcastResult) appendJSON(b []byte) []byte {
	b = append(b, `{"hub":`...)
	b = appendJSONString(b, r.Hub)
	b = append(b, `,"sent":`...)
	b = strconv.AppendInt(b, int64(r.Sent), 10)
	b = append(b, `,"items":`...)
	if r.Items == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range r.Items {
			if i > 0 {
				b = append(b, ',')
			}
			b = r.Items[i].appendJSON(b)
		}
		b = append(b, ']')
	}
	if r.Stopped != nil {
		b = append(b, `,"stoppedAt":`...)
		b = strconv.AppendInt(b, int64(*r.Stopped), 10)
	}
	return append(b, '}')
}

func (it *itemResult) appendJSON(b []byte) []byte {
	b = append(b, `{"index":`...)
	b = strconv.AppendInt(b, int64(it.Index), 10)
	b = append(b, `,"kind":`...)
	b = appendJSONString(b, it.Kind)
	b = append(b, `,"route":`...)
	b = appendJSONString(b, it.Route)
	b = append(b, `,"status":`...)
	b = appendJSONString(b, it.Status)
	if len(it.Endpoints) > 0 {
		b = append(b, `,"endpoints":[`...)
		for i, e := range it.Endpoints {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"name":`...)
			b = appendJSONString(b, e.Name)
			b = append(b, `,"status":`...)
			b = appendJSONString(b, e.Status)
			if e.Code != "" {
				b = append(b, `,"code":`...)
				b = appendJSONString(b, e.Code)
			}
			if e.Error != "" {
				b = append(b, `,"error":`...)
				b = appendJSONString(b, e.Error)
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

// appendJSONString appends s as json.Marshal writes a string.
func appendJSONString(b []byte, s string) []byte { return textutil.AppendJSONString(b, s, true) }

var summaryBufs = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// writeSummary writes the 202 answer of a broadcast.
func writeSummary(w http.ResponseWriter, res *broadcastResult) {
	bp := summaryBufs.Get().(*[]byte)
	b := append(res.appendJSON((*bp)[:0]), '\n')
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h["Cache-Control"] = noStore
	w.WriteHeader(http.StatusAccepted)
	w.Write(b)
	*bp = b
	summaryBufs.Put(bp)
}
