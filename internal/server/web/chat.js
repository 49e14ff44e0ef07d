// Development chat page: receives "newMessage" through Azure SignalR (or the
// local emulator) after negotiating with the handler at /api, and sends by
// POSTing the Functions SignalR output-binding JSON to /api/broadcast.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const stateEl = $("state"), idEl = $("connection-id"), errorEl = $("error");
  const list = $("messages"), form = $("send"), nameEl = $("name"), textEl = $("text");

  function setState(state) {
    stateEl.textContent = state;
    stateEl.className = state;
    idEl.textContent = state === "connected" && conn && conn.connectionId ? conn.connectionId : "";
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
      name.textContent = String(m.name ?? "?");
      text.textContent = String(m.text ?? JSON.stringify(m));
    } else {
      name.textContent = "?";
      text.textContent = String(m);
    }
    li.append(time, name, text);
    list.append(li);
    list.scrollTop = list.scrollHeight;
  }

  if (typeof signalR === "undefined") {
    setState("disconnected");
    showError("The SignalR client (/chat/signalr.min.js) did not load. Run `make deps` and reload.");
    return;
  }

  const conn = new signalR.HubConnectionBuilder()
    .withUrl(new URL("/api", location.href).href)
    .withAutomaticReconnect()
    .configureLogging(signalR.LogLevel.Warning)
    .build();

  conn.on("newMessage", addMessage);
  conn.onreconnecting((err) => { setState("reconnecting"); showError(err ? err.message : ""); });
  conn.onreconnected(() => { setState("connected"); showError(""); });
  conn.onclose((err) => {
    setState("disconnected");
    showError(err ? "Connection closed: " + err.message : "");
    setTimeout(start, 5000);
  });

  async function start() {
    setState("connecting");
    try {
      await conn.start();
      setState("connected");
      showError("");
    } catch (err) {
      setState("disconnected");
      showError("Cannot connect: " + err.message + (await negotiateProblem()) + "\nRetrying in 5 s.");
      setTimeout(start, 5000);
    }
  }

  // The client's error says only the status; the handler's JSON error says
  // why and how to fix it, so ask once more and show that.
  async function negotiateProblem() {
    try {
      const res = await fetch("/api/negotiate", { method: "POST" });
      if (res.ok) return "";
      const body = await res.json();
      if (body && body.error) {
        return "\n" + body.error.code + ": " + body.error.message + (body.error.hint ? "\n" + body.error.hint : "");
      }
    } catch (_) { /* unreachable or not JSON */ }
    return "";
  }

  nameEl.value = localStorage.getItem("chat.name") || "";
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const name = nameEl.value.trim(), text = textEl.value.trim();
    if (!name || !text) return;
    localStorage.setItem("chat.name", name);
    try {
      const res = await fetch("/api/broadcast", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ target: "newMessage", arguments: [{ name, text }] }),
      });
      if (!res.ok) {
        let detail = res.status + " " + res.statusText;
        try {
          const body = await res.json();
          if (body && body.error) {
            detail = body.error.code + ": " + body.error.message + (body.error.hint ? "\n" + body.error.hint : "");
          }
        } catch (_) { /* not JSON */ }
        showError("Send failed: " + detail);
        return;
      }
      textEl.value = "";
      showError("");
    } catch (err) {
      showError("Send failed: " + err.message);
    }
    textEl.focus();
  });

  start();
})();
