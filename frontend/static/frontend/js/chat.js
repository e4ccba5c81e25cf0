// Chat page: a small websocket client for /ws/chat/<id>/ (protocol: chat/consumers.py).
// Messages are stored before they are broadcast and carry a client id, so the page
// echoes locally, swaps in the stored copy, and after a reconnect asks for what it
// missed with {"type": "sync", "after": <last message id>}.
(function () {
  "use strict";
  var cfg = JSON.parse(document.getElementById("chat-config").textContent);
  var T = JSON.parse(document.getElementById("chat-text").textContent);
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var log = document.getElementById("log");
  var conn = document.getElementById("conn");
  var alertBox = document.getElementById("chat-alert");
  var typingEl = document.getElementById("typing");
  var SYMBOLS = { CNY: "¥", EUR: "€", USD: "$", GBP: "£", HKD: "HK$", JPY: "¥" };

  var seen = {};        // message id -> li
  var pending = {};     // client id -> {frame, li}
  var offers = {};      // offer id -> latest offer
  var lastId = null, lastSeq = 0, otherReadSeq = 0;
  var socket = null, attempts = 0, typingTimer = null, lastTypingSent = 0;

  function money(m) {
    var exp = cfg.exponent, minor = Math.abs(m.amount_minor), base = Math.pow(10, exp);
    var whole = String(Math.floor(minor / base)).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    var frac = exp ? "." + String(minor % base).padStart(exp, "0") : "";
    return (m.amount_minor < 0 ? "-" : "") + (SYMBOLS[m.currency] || m.currency + "\u00a0") + whole + frac;
  }

  // The order's steps are stored in English; the page sends their translations
  // as templates ("Shipped with %(carrier)s, ...") for those that arrive live.
  var NOTES = (T.system_notes || []).map(function (pair) {
    var names = [];
    var source = pair[0].split(/%\((\w+)\)s/).map(function (part, i) {
      if (i % 2) { names.push(part); return "(.+?)"; }
      return part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    }).join("");
    return { re: new RegExp("^" + source + "$"), names: names, text: pair[1] };
  });

  function systemText(body) {
    for (var i = 0; i < NOTES.length; i++) {
      var found = NOTES[i].re.exec(body || "");
      if (found) {
        var names = NOTES[i].names;
        return NOTES[i].text.replace(/%\((\w+)\)s/g, function (_, name) {
          return found[names.indexOf(name) + 1];
        });
      }
    }
    return body;
  }

  function toMinor(text) {
    var t = String(text).trim().replace(/,/g, "");
    var re = cfg.exponent ? new RegExp("^\\d+(\\.\\d{1," + cfg.exponent + "})?$") : /^\d+$/;
    if (!re.test(t)) return null;
    var parts = t.split(".");
    var frac = (parts[1] || "").padEnd(cfg.exponent, "0");
    return parseInt(parts[0], 10) * Math.pow(10, cfg.exponent) + (frac ? parseInt(frac, 10) : 0);
  }

  function uid() {
    return "w" + Date.now().toString(36) + Math.random().toString(36).slice(2, 10);
  }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function showAlert(text) {
    alertBox.textContent = text;
    alertBox.hidden = false;
  }

  function time(iso) {
    if (!iso) return "";
    return new Date(iso).toLocaleTimeString(cfg.lang, { hour: "2-digit", minute: "2-digit" });
  }

  // --- offers ---------------------------------------------------------------
  function api(path, body) {
    return fetch(path, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(body || {}),
    }).then(function (r) {
      if (!r.ok) return r.json().then(function (d) { showAlert(d.detail || String(r.status)); });
    });
  }

  function renderOfferCard(card, offer) {
    card.textContent = "";
    var kind = offer.is_discount ? T.discount : (offer.replaces ? T.counter : T.offer);
    card.appendChild(el("strong", null, kind + ": " + money(offer.amount)));
    var status = el("span", "status", " · " + (T["status_" + offer.status] || offer.status));
    status.dataset.testid = "offer-status";
    card.appendChild(status);
    var actions = el("div", "actions");
    if (offer.status === "offered" && offer.made_by !== cfg.me) {
      var accept = el("button", "button", T.accept);
      accept.type = "button";
      accept.addEventListener("click", function () { api("/api/offers/" + offer.id + "/accept"); });
      var decline = el("button", "button secondary", T.decline);
      decline.type = "button";
      decline.addEventListener("click", function () { api("/api/offers/" + offer.id + "/decline"); });
      var form = el("form", "row");
      var label = el("label", "sr-only", T.counter_label);
      var input = el("input");
      input.id = "counter-" + offer.id;
      label.htmlFor = input.id;
      input.inputMode = "decimal";
      input.placeholder = T.counter_label;
      var counter = el("button", "button secondary", T.counter_button);
      counter.type = "submit";
      form.appendChild(label); form.appendChild(input); form.appendChild(counter);
      form.addEventListener("submit", function (e) {
        e.preventDefault();
        var minor = toMinor(input.value);
        if (minor === null) { showAlert(T.bad_amount); return; }
        api("/api/offers/" + offer.id + "/counter", { amount_minor: minor, client_id: uid() });
      });
      actions.appendChild(accept); actions.appendChild(decline); actions.appendChild(form);
    } else if (offer.status === "offered") {
      actions.appendChild(el("span", "muted", T.waiting));
    } else if (offer.status === "accepted" && cfg.me === cfg.buyer) {
      var pay = el("a", "button", T.pay);
      pay.href = cfg.checkout_url + "?offer=" + offer.id;
      actions.appendChild(pay);
    }
    card.appendChild(actions);
  }

  function updateOffer(offer) {
    offers[offer.id] = offer;
    // A counter voids the offer it answers; the server only sends the new one.
    var replaced = offer.replaces && offers[offer.replaces];
    if (replaced && replaced.status === "offered") {
      updateOffer(Object.assign({}, replaced, { status: "countered" }));
    }
    document.querySelectorAll('[data-offer-id="' + offer.id + '"]').forEach(function (card) {
      renderOfferCard(card, offer);
    });
  }

  // --- messages ---------------------------------------------------------------
  function bubbleFor(m) {
    var action = (m.data && m.data.action) || "";
    if (m.kind === "offer" && m.offer && ["offer", "counter", "discount"].indexOf(action) >= 0) {
      var card = el("div", "offer-card");
      card.dataset.offerId = m.offer.id;
      card.dataset.testid = "offer-card";
      offers[m.offer.id] = offers[m.offer.id] || m.offer;
      renderOfferCard(card, offers[m.offer.id]);
      return card;
    }
    if (m.kind === "offer") {
      return el("div", "bubble", (T["action_" + action] || action) + (m.offer ? " · " + money(m.offer.amount) : ""));
    }
    if (m.kind === "image" && m.image_url) {
      var b = el("div", "bubble");
      var img = el("img");
      img.src = m.image_url; img.alt = ""; img.style.maxWidth = "240px";
      b.appendChild(img);
      return b;
    }
    return el("div", "bubble", m.sender ? m.body : systemText(m.body));
  }

  function render(m) {
    var li = el("li", m.sender === cfg.me ? "mine" : (m.sender ? "theirs" : "system"));
    li.dataset.id = m.id || "";
    li.dataset.seq = m.seq || "";
    li.dataset.testid = "chat-message";
    li.appendChild(bubbleFor(m));
    var meta = el("span", "meta", time(m.created_at));
    li.appendChild(meta);
    return li;
  }

  function receive(m) {
    if (m.offer) updateOffer(m.offer);
    if (seen[m.id]) return;
    var li = render(m);
    var mine = m.client_id && pending[m.client_id];
    if (mine) {
      log.replaceChild(li, mine.li);
      delete pending[m.client_id];
    } else {
      log.appendChild(li);
    }
    seen[m.id] = li;
    if (m.seq > lastSeq) { lastSeq = m.seq; lastId = m.id; }
    log.scrollTop = log.scrollHeight;
    if (m.sender && m.sender !== cfg.me) {
      typingEl.textContent = "";
      markRead(m);
    }
    showReceipts();
  }

  function markRead(m) {
    if (document.visibilityState === "visible" && socket && socket.readyState === 1) {
      socket.send(JSON.stringify({ type: "read", up_to: m.id }));
    }
  }

  function showReceipts() {
    document.querySelectorAll(".receipt").forEach(function (r) { r.remove(); });
    var mine = log.querySelectorAll("li.mine[data-seq]");
    for (var i = mine.length - 1; i >= 0; i--) {
      var seq = parseInt(mine[i].dataset.seq, 10);
      if (seq && seq <= otherReadSeq) {
        var r = el("span", "meta receipt", "✓ " + T.read);
        r.dataset.testid = "read-receipt";
        mine[i].appendChild(r);
        break;
      }
    }
  }

  // --- the socket ---------------------------------------------------------------
  function send(frame) {
    if (socket && socket.readyState === 1) socket.send(JSON.stringify(frame));
  }

  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + "/ws/chat/" + cfg.conversation + "/");
    socket.addEventListener("open", function () {
      attempts = 0;
      conn.textContent = T.connected;
      conn.dataset.state = "open";
      send({ type: "sync", after: lastId });   // whatever arrived while we were away
      Object.keys(pending).forEach(function (cid) { send(pending[cid].frame); }); // retries are safe
    });
    socket.addEventListener("message", function (e) {
      var f = JSON.parse(e.data);
      if (f.type === "message") receive(f.message);
      else if (f.type === "offer") { updateOffer(f.offer); receive(f.message); }
      else if (f.type === "typing") {
        typingEl.textContent = T.typing;
        clearTimeout(typingTimer);
        typingTimer = setTimeout(function () { typingEl.textContent = ""; }, 3000);
      } else if (f.type === "read") {
        if (f.user !== cfg.me && f.seq > otherReadSeq) { otherReadSeq = f.seq; showReceipts(); }
      } else if (f.type === "warning") {
        showAlert(T.warning);
        var li = seen[f.message_id];
        if (li) { li.classList.add("flagged"); li.appendChild(el("span", "meta", "⚠ " + T.flagged)); }
      } else if (f.type === "synced") {
        var theirs = log.querySelectorAll("li.theirs[data-id]");
        if (theirs.length) markRead({ id: theirs[theirs.length - 1].dataset.id });
      } else if (f.type === "error") {
        showAlert(f.detail);
        if (f.client_id && pending[f.client_id]) {
          pending[f.client_id].li.remove();
          delete pending[f.client_id];
        }
      }
    });
    socket.addEventListener("close", function (e) {
      conn.dataset.state = "closed";
      if (e.code === 4401 || e.code === 4403) return; // not allowed: do not hammer
      conn.textContent = T.reconnecting;
      // Jittered exponential backoff: a server restart must not be a reconnect storm.
      var delay = Math.min(10000, 500 * Math.pow(2, attempts++)) * (0.5 + Math.random() / 2);
      setTimeout(connect, delay);
    });
  }

  // --- the forms ---------------------------------------------------------------------
  document.getElementById("send-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var input = document.getElementById("body");
    var body = input.value.trim();
    if (!body) return;
    var cid = uid();
    var frame = { type: "message", client_id: cid, body: body };
    var li = render({ id: "", sender: cfg.me, kind: "text", body: body, seq: 0 });
    li.classList.add("pending");
    li.querySelector(".meta").textContent = T.sending;
    log.appendChild(li);
    log.scrollTop = log.scrollHeight;
    pending[cid] = { frame: frame, li: li };
    send(frame);
    input.value = "";
  });

  document.getElementById("body").addEventListener("input", function () {
    var now = Date.now();
    if (now - lastTypingSent > 2000) { lastTypingSent = now; send({ type: "typing" }); }
  });

  var offerForm = document.getElementById("offer-form");
  if (offerForm) {
    offerForm.addEventListener("submit", function (e) {
      e.preventDefault();
      var input = document.getElementById("offer-amount");
      var minor = toMinor(input.value);
      if (minor === null) { showAlert(T.bad_amount); return; }
      send({ type: "offer", client_id: uid(), amount_minor: minor });
      input.value = "";
    });
  }

  document.addEventListener("visibilitychange", function () {
    var theirs = log.querySelectorAll("li.theirs[data-id]");
    if (theirs.length) markRead({ id: theirs[theirs.length - 1].dataset.id });
  });

  cfg.messages.forEach(receive);
  connect();
})();
