// Development chat page: receives "newMessage" through Azure SignalR (or the
// local emulator) after negotiating with the handler at /api, and sends with
// invoke("sendMessage") (or "sendToGroup" inside a room), which the service
// forwards to the handler's upstream chat hub; "presence" shows who joined
// and left.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const stateEl = $("state"), idEl = $("connection-id"), errorEl = $("error");
  const list = $("messages"), form = $("send"), nameEl = $("name"), textEl = $("text"), sendBtn = $("send-button");
  const apiBase = new URL("/api", location.href).href;
  const negotiateURL = apiBase + "/negotiate";
  const retrySeconds = 5;
  let conn = null;

  // Send works only while connected: a message sent while disconnected
  // would reach the others but not come back to this page.
  function setState(state, label) {
    stateEl.textContent = label || state;
    stateEl.className = state;
    const connected = state === "connected";
    idEl.textContent = connected && conn && conn.connectionId ? conn.connectionId : "";
    sendBtn.disabled = !connected;
    sendBtn.title = connected ? "" : "Not connected: sending is possible again once the page has reconnected.";
  }

  function showError(msg) {
    errorEl.textContent = msg || "";
  }

  function addMessage(m) {
    const li = document.createElement("li");
    const time = document.createElement("span");
    time.className = "time";
    time.textContent = new Date().toLocaleTimeString();
    const name = document.createElement("span");
    name.className = "name";
    const text = document.createElement("span");
    text.className = "text";
    if (m !== null && typeof m === "object") {
      // Your own messages carry your connection id: show your name instead.
      const mine = conn && m.from !== undefined && m.from === conn.connectionId;
      name.textContent = (m.group ? "[" + m.group + "] " : "") + String(mine ? nameEl.value.trim() || "you" : m.name ?? m.from ?? "?");
      text.textContent = String(m.text ?? JSON.stringify(m));
    } else {
      name.textContent = "?";
      text.textContent = String(m);
    }
    li.append(time, name, text);
    list.append(li);
    list.scrollTop = list.scrollHeight;
  }

  // The handler's JSON error {"error":{code,message,hint}} as text.
  function handlerError(body) {
    const e = body && body.error;
    if (!e) return "";
    return e.code + ": " + e.message + (e.hint ? "\n" + e.hint : "");
  }

  // explainConnectFailure says, in plain words, which hop of a failed
  // connect broke: the client's own error names only the symptom ("Failed
  // to fetch"). It repeats the client's two steps: negotiate with the
  // handler, then negotiate with the service at the url the handler gave.
  async function explainConnectFailure(err) {
    const lines = ["Cannot connect.", "Tried: POST " + negotiateURL];
    let res, body;
    try {
      res = await fetch(negotiateURL + "?negotiateVersion=1", { method: "POST" });
      body = await res.json().catch(() => null);
    } catch (_) {
      lines.push("The handler does not answer at " + apiBase + ": is ./handler running? (`make dev` starts it.)");
      return lines.join("\n");
    }
    if (!res.ok) {
      lines.push("The handler refused negotiate (" + res.status + ")." + (handlerError(body) ? "\n" + handlerError(body) : ""));
      return lines.join("\n");
    }
    if (!body || typeof body.url !== "string") {
      lines.push("The handler answered negotiate without a service url: " + String(err && err.message || err));
      return lines.join("\n");
    }
    // The handler is fine; ask the service as the client does.
    let service;
    try {
      service = new URL(body.url);
    } catch (_) {
      lines.push("The handler gave an invalid service url: " + body.url);
      return lines.join("\n");
    }
    const serviceNegotiate = new URL(service.href);
    serviceNegotiate.pathname = serviceNegotiate.pathname.replace(/\/?$/, "/negotiate");
    serviceNegotiate.searchParams.set("negotiateVersion", "1");
    lines.push("The handler answered and sent the client to the SignalR service at " + service.origin + ".");
    try {
      const sres = await fetch(serviceNegotiate.href, {
        method: "POST",
        headers: body.accessToken ? { Authorization: "Bearer " + body.accessToken } : {},
      });
      if (sres.ok) {
        lines.push("The service answers too; the connection itself failed: " + String(err && err.message || err));
      } else {
        const text = (await sres.text().catch(() => "")).slice(0, 300);
        lines.push("The SignalR service refused the connection (" + sres.status + "): " + text);
      }
    } catch (_) {
      lines.push("The SignalR service does not answer at " + service.origin + " (" + serviceNegotiate.origin + serviceNegotiate.pathname + "): " +
        "is the emulator running (`make dev` starts it), or is the Endpoint of AzureSignalRConnectionString right?");
    }
    return lines.join("\n");
  }

  if (typeof signalR === "undefined") {
    setState("disconnected");
    showError("The SignalR client (/chat/signalr.min.js) did not load. Run `make deps` and reload.");
    return;
  }

  conn = new signalR.HubConnectionBuilder()
    .withUrl(apiBase)
    .withAutomaticReconnect()
    .configureLogging(signalR.LogLevel.Warning)
    .build();

  conn.on("newMessage", addMessage);
  conn.on("presence", (p) => {
    const li = document.createElement("li");
    li.className = "presence";
    li.textContent = String(p.userId ?? p.connectionId) + (p.event === "connected" ? " joined" : " left");
    list.append(li);
    list.scrollTop = list.scrollHeight;
  });

  // A room: join a group, then messages go to it with sendToGroup.
  let room = "";
  const roomEl = document.createElement("input"), roomBtn = document.createElement("button");
  roomEl.id = "room"; roomEl.placeholder = "Room"; roomEl.maxLength = 64;
  roomBtn.id = "join"; roomBtn.type = "button"; roomBtn.textContent = "Join room";
  form.after(roomEl, roomBtn);
  roomBtn.addEventListener("click", async () => {
    try {
      if (room) {
        await conn.invoke("leaveGroup", room);
        room = "";
      } else if (roomEl.value.trim()) {
        await conn.invoke("joinGroup", roomEl.value.trim());
        room = roomEl.value.trim();
      }
      roomEl.disabled = !!room;
      roomBtn.textContent = room ? "Leave " + room : "Join room";
      showError("");
    } catch (err) {
      showError("Room: " + err.message);
    }
  });
  conn.onreconnecting((err) => {
    setState("reconnecting", "reconnecting…");
    showError("Connection lost" + (err ? ": " + err.message : "") + "; reconnecting. Send is off until then.");
  });
  conn.onreconnected(() => {
    setState("connected", "reconnected");
    showError("");
  });
  conn.onclose((err) => {
    setState("disconnected");
    showError((err ? "Connection closed: " + err.message + "\n" : "") + "Reconnecting in " + retrySeconds + " s.");
    setTimeout(start, retrySeconds * 1000);
  });

  async function start() {
    setState("connecting");
    try {
      await conn.start();
      setState("connected");
      showError("");
    } catch (err) {
      setState("disconnected");
      showError((await explainConnectFailure(err)) + "\nRetrying in " + retrySeconds + " s.");
      setTimeout(start, retrySeconds * 1000);
    }
  }

  // send sends one chat message; the only place that knows how. The hub's
  // answer (an error completion) is the failure text.
  async function send(name, text) {
    try {
      await (room ? conn.invoke("sendToGroup", room, text) : conn.invoke("sendMessage", text));
      return "";
    } catch (err) {
      return err.message;
    }
  }

  nameEl.value = localStorage.getItem("chat.name") || "";
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const name = nameEl.value.trim(), text = textEl.value.trim();
    if (!name || !text || sendBtn.disabled) return;
    localStorage.setItem("chat.name", name);
    try {
      const failure = await send(name, text);
      if (failure) {
        showError("Send failed: " + failure);
        return;
      }
      textEl.value = "";
      showError("");
    } catch (err) {
      showError("Send failed: the handler does not answer at " + apiBase + " (" + err.message + ")");
    }
    textEl.focus();
  });

  start();
})();
