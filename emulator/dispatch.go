package emulator

// Client messages and server-to-client invocations: the hooks the protocol
// layer offers to the rest of the emulator (upstream, :invoke, streams).
//
//   - Every client message that is not about the connection itself (Ping,
//     Close, Ack and Sequence are handled by the reader) is handed, parsed, to
//     [Emulator.onClientMessage], on the connection's reader goroutine and in
//     order: Invocation, StreamInvocation, Completion, CancelInvocation and
//     StreamItem. The message is protocol-neutral (clientMessage): Type,
//     InvocationID, Target, Arguments, Result, Error…; its values stay in the
//     client's encoding (m.Protocol.toJSON converts one to JSON) and m.Raw is
//     the whole record without its framing (JSON without the 0x1E, MessagePack
//     without the varint prefix), which is exactly what an upstream request
//     carries (content type m.Protocol.contentType()). m.Raw and the values
//     alias the read buffer: copy them before the method returns if they are
//     used later (for example by a goroutine that POSTs them).
//     onClientMessage must not block: hand slow work to a goroutine.
//   - The default, without upstream, is the service's: client messages are
//     ignored and the connection stays open; an invocation that carries an
//     invocation id (so its caller waits) gets an error Completion saying no
//     upstream is configured. A Completion answering an invocation the
//     emulator sent (invokeClient) goes to its waiter.
//   - [Emulator.invokeClient] sends one connection an Invocation with a fresh
//     invocation id and waits for its Completion (REST :invoke).
//   - [conn.sendFramed] queues a record already framed in the connection's
//     protocol (c.proto), byte for byte: an upstream's completion relayed to
//     the client. [conn.sendCompletion] builds a Completion in the right
//     protocol.

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"sync/atomic"
)

// noUpstreamError is the Completion error an invocation gets when no
// upstream is configured: nobody can answer it.
const noUpstreamError = "the hub runs in serverless mode without upstream: no upstream is configured to handle client invocations, so clients may only receive messages (configure an upstream URL to handle them)"

// onClientMessage receives every parsed client message that is not about
// the connection itself; see the comment at the top of this file.
func (e *Emulator) onClientMessage(c *conn, m clientMessage) {
	switch m.Type {
	case msgCompletion:
		c.complete(m)
	case msgInvocation, msgStreamInvocation:
		if e.upstreamInvocation(c, m) {
			return
		}
		if m.InvocationID != "" {
			c.sendCompletion(m.InvocationID, nil, noUpstreamError)
		}
	}
	// Without upstream the other messages (StreamItem, CancelInvocation)
	// are ignored, as the service ignores them.
}

// sendFramed queues b, one record already framed in c's protocol, as is.
// It reports false when the connection is closing or too slow.
func (c *conn) sendFramed(b []byte) bool {
	return c.enqueue((&outMessage{typ: msgCompletion}).preset(c.proto, b))
}

// sendCompletion queues a Completion for invocationID: an error when errMsg
// is not empty, else result (a JSON value; nil for a void completion).
func (c *conn) sendCompletion(invocationID string, result json.RawMessage, errMsg string) bool {
	return c.enqueue(&outMessage{typ: msgCompletion, invocationID: invocationID, result: result, err: errMsg})
}

// errConnectionGone is an invocation whose connection ended before it
// answered.
var errConnectionGone = errors.New("the connection ended before it answered the invocation")

// invocationCounter numbers server-to-client invocations.
var invocationCounter atomic.Uint64

// invokeClient sends c an Invocation of target with args (JSON values) and a
// fresh invocation id, and returns the client's Completion (m.Result in the
// client's protocol, m.HasError/m.Error for a failure). It returns ctx's
// error when ctx ends first and errConnectionGone when the connection ends
// or cannot take the message.
func (e *Emulator) invokeClient(ctx context.Context, c *conn, target string, args []json.RawMessage) (clientMessage, error) {
	id := "emu-" + strconv.FormatUint(invocationCounter.Add(1), 10)
	ch := make(chan clientMessage, 1)
	c.invMu.Lock()
	if c.waiters == nil {
		c.waiters = map[string]chan clientMessage{}
	}
	c.waiters[id] = ch
	c.invMu.Unlock()
	defer func() {
		c.invMu.Lock()
		delete(c.waiters, id)
		c.invMu.Unlock()
	}()
	m := newInvocation(target, args)
	m.invocationID = id
	if !c.enqueue(m) {
		return clientMessage{}, errConnectionGone
	}
	select {
	case r := <-ch:
		return r, nil
	case <-c.done:
		return clientMessage{}, errConnectionGone
	case <-c.closing:
		return clientMessage{}, errConnectionGone
	case <-ctx.Done():
		return clientMessage{}, ctx.Err()
	}
}

// complete hands a Completion to the invokeClient waiting for it (a copy:
// m aliases the read buffer). A Completion nobody waits for is ignored.
func (c *conn) complete(m clientMessage) {
	c.invMu.Lock()
	ch := c.waiters[m.InvocationID]
	delete(c.waiters, m.InvocationID)
	c.invMu.Unlock()
	if ch == nil {
		return
	}
	m.Raw = append([]byte(nil), m.Raw...)
	m.Result = append([]byte(nil), m.Result...)
	if len(m.Result) == 0 {
		m.Result = nil
	}
	m.Arguments, m.Item = nil, nil
	ch <- m
}
