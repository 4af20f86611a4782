// TeachFab: the hub's live stream (GET /api/stream), shared by the mentor and the learner page.
// Server-sent events are read with fetch because EventSource cannot send the Authorization header.

/**
 * Follow the live stream for ever, reconnecting 2 s after it drops.
 * @param {function} authFetch  fetch that adds the bearer token (common.js)
 * @param {Object<string, function>} handlers  event type -> handler of the decoded JSON payload
 * @param {function(boolean)} [onState]  told true when the stream is live, false when it reconnects
 *   (default: the page's #conn badge)
 */
export async function followStream(authFetch, handlers, onState = showStreamState) {
  const dispatch = (block) => {
    let type = "message";
    const data = [];
    for (const line of block.split("\n")) {
      if (line.startsWith("event:")) type = line.slice(6).trim();
      else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
    }
    if (data.length && handlers[type]) handlers[type](JSON.parse(data.join("\n")));
  };
  const once = async () => {
    const res = await authFetch("/api/stream", { cache: "no-store" });
    if (!res.ok) throw new Error(`/api/stream: HTTP ${res.status}`);
    onState(true);
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buf += value.replace(/\r\n/g, "\n");
      let cut;
      while ((cut = buf.indexOf("\n\n")) >= 0) {
        dispatch(buf.slice(0, cut));
        buf = buf.slice(cut + 2);
      }
    }
  };
  for (;;) {
    try { await once(); } catch (e) { console.warn(e); }
    onState(false);
    await new Promise((r) => setTimeout(r, 2000));
  }
}

/** Show the stream's state in the page's #conn badge. */
function showStreamState(live) {
  const badge = document.getElementById("conn");
  badge.textContent = live ? "live" : "reconnecting…";
  badge.className = live ? "badge on" : "badge off";
}
