// judgebench's judgment viewer (viewer.html). The judgments come in shards (viewer/shards/<n>.js), loaded on demand
// with <script> elements (a page opened from file:// cannot fetch()); viewer/index.js says what each shard holds,
// so a filter reads only the shards that can match. Texts that several shards show are kept once, in text packs
// (viewer/texts/<n>.js): a row refers to them by -(number + 1). Every text is data: only ever set as textContent.
(function () {
  "use strict";
  var PAGE_SIZE = 50;
  var KEEP = 48; // shards kept in memory (least recently used dropped)
  var PARALLEL = 4; // shards loaded at once while counting
  var FLAGS = ["failed", "parse", "flip", "disagree"];
  var FLAG_NAMES = {failed: "failed", parse: "parse failure", flip: "position flip", disagree: "judges disagree"};
  var SELECTS = {benchmark: "benchmarks", judge: "judges", model: "models", opponent: "models",
                 category: "categories", kind: "kinds"};
  var index = null;
  var pending = new Map(); // "shards/3" -> the promise of a script not yet run
  var caches = {shards: new Map(), texts: new Map()};
  var packStarts = [];
  var generation = 0;

  function $(id) { return document.getElementById(id); }

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  window.JBV = {
    index: function (data) {
      index = data;
      var start = 0;
      packStarts = index.packs.map(function (n) { start += n; return start - n; });
      setup();
    },
    shard: function (number, data) { arrived("shards/" + number, data); },
    texts: function (number, data) { arrived("texts/" + number, data); }
  };

  function arrived(key, data) {
    var waiting = pending.get(key);
    if (waiting) {
      pending.delete(key);
      waiting.resolve(data);
    }
  }

  // A data script (kind "shards" or "texts"), from the cache or loaded by a <script> element.
  function load(kind, number) {
    var cache = caches[kind], key = kind + "/" + number, path = "viewer/" + key + ".js";
    if (cache.has(number)) {
      var kept = cache.get(number);
      cache.delete(number);
      cache.set(number, kept);
      return Promise.resolve(kept);
    }
    if (pending.has(key)) return pending.get(key).promise;
    var waiting = {};
    waiting.promise = new Promise(function (resolve, reject) {
      waiting.resolve = resolve;
      waiting.reject = reject;
    }).then(function (data) {
      cache.set(number, data);
      while (cache.size > KEEP) cache.delete(cache.keys().next().value);
      return data;
    });
    pending.set(key, waiting);
    var script = document.createElement("script");
    script.src = path;
    script.charset = "utf-8";
    script.onload = function () {
      script.remove();
      if (pending.get(key) === waiting) {
        pending.delete(key);
        waiting.reject(new Error(path + " holds no data"));
      }
    };
    script.onerror = function () {
      script.remove();
      pending.delete(key);
      waiting.reject(new Error("could not load " + path));
    };
    document.head.appendChild(script);
    return waiting.promise;
  }

  function loadShard(number) { return load("shards", number); }

  function refs(row) {
    var found = (row.q || []).concat(row.a || [], row.oa || [], row.r || []);
    if (row.p !== undefined && row.p >= 0) found.push(row.p);
    return found;
  }

  function packOf(ref) { // the text pack of a shared text's reference
    var id = -ref - 1, low = 0, high = packStarts.length - 1;
    while (low < high) {
      var middle = (low + high + 1) >> 1;
      if (packStarts[middle] <= id) low = middle; else high = middle - 1;
    }
    return low;
  }

  // The rows' shared texts loaded, and kept while the rows are shown: the rows' texts, ready to read.
  function withTexts(rows) {
    var needed = new Set();
    rows.forEach(function (row) { refs(row).forEach(function (ref) { if (ref < 0) needed.add(packOf(ref)); }); });
    return Promise.all(Array.from(needed).map(function (number) {
      return load("texts", number).then(function (pack) { return [number, pack]; });
    })).then(function (loaded) { return new Map(loaded); });
  }

  function textOf(shard, ref, packs) {
    if (ref >= 0) return shard.texts[ref];
    var number = packOf(ref);
    return packs.get(number)[-ref - 1 - packStarts[number]];
  }

  // --- the filter: the page's hash (benchmark=...&model=...&parse=1&q=...&page=2) -------------------------
  function readHash() {
    var params = new URLSearchParams(location.hash.replace(/^#/, ""));
    var state = {q: params.get("q") || "", item: params.get("item") || "", turn: params.get("turn") || "",
                 page: Math.max(0, (parseInt(params.get("page"), 10) || 1) - 1)};
    Object.keys(SELECTS).forEach(function (name) { state[name] = params.get(name) || ""; });
    FLAGS.forEach(function (flag) { state[flag] = params.get(flag) === "1"; });
    return state;
  }

  function writeHash(state) {
    var params = new URLSearchParams();
    Object.keys(SELECTS).concat(["turn", "item", "q"]).forEach(function (name) {
      if (state[name]) params.set(name, state[name]);
    });
    FLAGS.forEach(function (flag) { if (state[flag]) params.set(flag, "1"); });
    if (state.page) params.set("page", String(state.page + 1));
    var hash = params.toString();
    if (location.hash.replace(/^#/, "") !== hash) location.hash = hash;
    else refresh();
  }

  // Names -> positions in the index's facets (-2: a name the site does not have, which matches nothing).
  function compile(state) {
    var facets = index.facets;
    function position(list, name) {
      if (!name) return null;
      var at = list.indexOf(name);
      return at < 0 ? -2 : at;
    }
    var turn = state.turn ? parseInt(state.turn, 10) : null;
    var mask = 0;
    FLAGS.forEach(function (flag, bit) { if (state[flag]) mask |= 1 << bit; });
    return {b: position(facets.benchmarks, state.benchmark), j: position(facets.judges, state.judge),
            m: position(facets.models, state.model), o: position(facets.models, state.opponent),
            c: position(facets.categories, state.category), k: position(facets.kinds, state.kind),
            t: turn === null || isNaN(turn) ? null : turn, mask: mask, item: state.item,
            q: state.q.trim().toLowerCase()};
  }

  // How many of a shard's judgments can match, from the index alone; exact when at most one filter splits it.
  function bound(entry, f) {
    if ((f.b !== null && entry.b !== f.b) || (f.j !== null && entry.j !== f.j)) return {n: 0, exact: true};
    var n = entry.n, splits = 0;
    function limit(count) {
      count = count || 0;
      if (count < entry.n) splits += 1;
      if (count < n) n = count;
    }
    if (f.m !== null) limit(entry.m === f.m ? entry.n : entry.bo[f.m]);
    if (f.o !== null) limit(entry.o[f.o]);
    if (f.c !== null) limit(entry.c[f.c]);
    if (f.k !== null) limit(entry.k[f.k]);
    if (f.t !== null) limit(entry.t[f.t]);
    FLAGS.forEach(function (flag, bit) { if (f.mask & (1 << bit)) limit(entry.f[bit]); });
    return {n: n, exact: n === 0 || (splits <= 1 && !f.q && !f.item)};
  }

  function haystack(row, shard, packs) {
    if (row._hay === undefined) {
      var parts = [row.item, row.v, row.e || ""];
      (row.cr || []).forEach(function (c) { parts.push(c[0] + " " + c[1]); });
      refs(row).forEach(function (ref) { parts.push(textOf(shard, ref, packs)); });
      row._hay = parts.join("\n").toLowerCase();
    }
    return row._hay;
  }

  function matches(row, shard, f, packs) {
    if (f.m !== null && shard.m !== f.m && !(row.o === f.m && index.battle_kinds.indexOf(row.k) >= 0)) return false;
    if (f.o !== null && row.o !== f.o) return false;
    if (f.c !== null && row.c !== f.c) return false;
    if (f.k !== null && row.k !== f.k) return false;
    if (f.t !== null && row.t !== f.t) return false;
    if ((row.x & f.mask) !== f.mask) return false;
    if (f.item && row.item !== f.item) return false;
    if (f.q && haystack(row, shard, packs).indexOf(f.q) < 0) return false;
    return true;
  }

  // A shard's matches (a promise: a text search first loads the shared texts it reads).
  function hits(shard, f) {
    var ready = f.q ? withTexts(shard.rows) : Promise.resolve(null);
    return ready.then(function (packs) {
      return shard.rows.filter(function (row) { return matches(row, shard, f, packs); });
    });
  }

  // --- one refresh: the page's judgments first, then the total where the index alone cannot tell it ---------
  function refresh() {
    var mine = ++generation;
    var state = readHash();
    showState(state);
    var f = compile(state);
    var plan = [];
    index.shards.forEach(function (entry, number) {
      var b = bound(entry, f);
      if (b.n > 0) plan.push({number: number, n: b.n, exact: b.exact, hits: null});
    });
    var known = plan.every(function (p) { return p.exact; });
    var total = plan.reduce(function (sum, p) { return sum + p.n; }, 0);
    var start = state.page * PAGE_SIZE;
    setStatus(known ? null : 0, plan.length, total, known, state, true);
    var shown = [], seen = 0, at = 0;
    function next() {
      if (mine !== generation) return;
      if (at >= plan.length || shown.length >= PAGE_SIZE) {
        withTexts(shown.map(function (entry) { return entry.row; })).then(function (packs) {
          if (mine !== generation) return;
          render(shown, state, known ? total : null, packs);
          if (!known) count(mine, plan, state);
          else setStatus(plan.length, plan.length, total, true, state, false);
        }, fail);
        return;
      }
      var p = plan[at++];
      if (p.exact && seen + p.n <= start) {
        seen += p.n;
        return next();
      }
      loadShard(p.number).then(function (shard) {
        return hits(shard, f).then(function (found) {
          if (mine !== generation) return;
          p.hits = found.length;
          found.forEach(function (row) {
            if (seen >= start && shown.length < PAGE_SIZE) shown.push({row: row, shard: shard});
            seen += 1;
          });
          next();
        });
      }).catch(fail);
    }
    next();
  }

  function count(mine, plan, state) {
    var f = compile(state), queue = plan.filter(function (p) { return p.hits === null; }), running = 0;
    var done = plan.length - queue.length;
    function total() { return plan.reduce(function (sum, p) { return sum + (p.hits === null ? 0 : p.hits); }, 0); }
    function pump() {
      if (mine !== generation) return;
      if (!queue.length && !running) {
        setStatus(plan.length, plan.length, total(), true, state, false);
        renderPager(state, total());
        return;
      }
      while (running < PARALLEL && queue.length) {
        var p = queue.shift();
        running += 1;
        (function (p) {
          loadShard(p.number).then(function (shard) { return hits(shard, f); }).then(function (found) {
            p.hits = found.length;
            running -= 1;
            done += 1;
            if (mine === generation) setStatus(done, plan.length, total(), false, state, false);
            pump();
          }).catch(fail);
        })(p);
      }
    }
    pump();
  }

  function fail(error) {
    var status = $("v-status");
    status.className = "error";
    status.textContent = String(error && error.message ? error.message : error) +
      " (open the site's folder as it was built: viewer.html needs viewer/ beside it)";
  }

  function setStatus(done, shards, total, final, state, loading) {
    var status = $("v-status");
    status.className = "";
    status.dataset.done = final && !loading ? "1" : "0";
    status.dataset.total = final ? String(total) : "";
    var first = Math.min(total, state.page * PAGE_SIZE + 1), last = Math.min(total, (state.page + 1) * PAGE_SIZE);
    var text;
    if (loading) text = "Loading…";
    else if (final) text = total === 0 ? "No judgment matches." :
      "Judgments " + first + "–" + last + " of " + total + " matching" +
      (total === index.total ? "" : " (of " + index.total + " on the site)") + ".";
    else text = "Judgments " + first + "–" + last + " of at least " + total + " matching; searching… (" + done +
      " of " + shards + " shards read)";
    status.textContent = text;
  }

  // --- the controls ----------------------------------------------------------------------------------------
  function setup() {
    Object.keys(SELECTS).forEach(function (name) {
      var select = $("f-" + name);
      index.facets[SELECTS[name]].forEach(function (value) {
        var option = el("option", null, value);
        option.value = value;
        select.appendChild(option);
      });
      select.addEventListener("change", changed);
    });
    var turns = new Set();
    index.shards.forEach(function (entry) { Object.keys(entry.t).forEach(function (t) { turns.add(+t); }); });
    Array.from(turns).sort(function (a, b) { return a - b; }).forEach(function (t) {
      var option = el("option", null, t);
      option.value = String(t);
      $("f-turn").appendChild(option);
    });
    $("f-turn").addEventListener("change", changed);
    FLAGS.forEach(function (flag) { $("f-" + flag).addEventListener("change", changed); });
    var timer = null;
    ["f-q", "f-item"].forEach(function (id) {
      $(id).addEventListener("input", function () {
        clearTimeout(timer);
        timer = setTimeout(changed, 250);
      });
    });
    $("f-clear").addEventListener("click", function () { location.hash = ""; });
    window.addEventListener("hashchange", refresh);
    refresh();
  }

  function changed() {
    var state = {q: $("f-q").value, item: $("f-item").value.trim(), turn: $("f-turn").value, page: 0};
    Object.keys(SELECTS).forEach(function (name) { state[name] = $("f-" + name).value; });
    FLAGS.forEach(function (flag) { state[flag] = $("f-" + flag).checked; });
    writeHash(state);
  }

  function showState(state) {
    Object.keys(SELECTS).concat(["turn"]).forEach(function (name) {
      var select = $("f-" + name);
      select.value = state[name];
      if (select.value !== state[name]) { // a name the site does not have: shown, and it matches nothing
        var option = el("option", null, state[name]);
        option.value = state[name];
        select.appendChild(option);
        select.value = state[name];
      }
    });
    if ($("f-q").value.trim().toLowerCase() !== state.q.trim().toLowerCase()) $("f-q").value = state.q;
    if ($("f-item").value.trim() !== state.item) $("f-item").value = state.item;
    FLAGS.forEach(function (flag) { $("f-" + flag).checked = state[flag]; });
  }

  function renderPager(state, total) {
    ["v-pager-top", "v-pager-bottom"].forEach(function (id) {
      var nav = $(id);
      nav.textContent = "";
      var pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
      if (pages <= 1) return;
      function go(page, label, disabled) {
        var button = el("button", null, label);
        button.type = "button";
        button.disabled = disabled;
        button.addEventListener("click", function () {
          var next = readHash();
          next.page = page;
          writeHash(next);
          window.scrollTo(0, 0);
        });
        nav.appendChild(button);
      }
      go(state.page - 1, "← previous", state.page <= 0);
      nav.appendChild(el("span", "page", " page " + (state.page + 1) + " of " + pages + " "));
      go(state.page + 1, "next →", state.page + 1 >= pages);
    });
  }

  // --- one judgment ----------------------------------------------------------------------------------------
  function render(shown, state, total, packs) {
    var results = $("v-results");
    results.textContent = "";
    shown.forEach(function (entry) { results.appendChild(judgment(entry.row, entry.shard, packs)); });
    if (total !== null) renderPager(state, total);
    else renderPager(state, (state.page + 2) * PAGE_SIZE); // more may come: the pager is redrawn once counted
  }

  function texts(block, shard, packs, keys, heading, cls) {
    keys.forEach(function (ref, i) {
      block.appendChild(el("h4", null, heading + (keys.length > 1 ? ", turn " + (i + 1) : "")));
      block.appendChild(el("pre", "text " + cls, textOf(shard, ref, packs)));
    });
  }

  function link(label, filters) {
    var a = el("a", null, label);
    a.href = "#" + new URLSearchParams(filters).toString();
    return a;
  }

  // A rubric judgment's criteria, one row each: [id, text, points, met (true/false/null), level (or null)].
  function criteria(list) {
    var block = el("div", "scroll criteria");
    var table = el("table", "criteria");
    var head = el("tr");
    ["criterion", "points", "verdict", "text"].forEach(function (name) { head.appendChild(el("th", null, name)); });
    table.appendChild(el("thead")).appendChild(head);
    var body = table.appendChild(el("tbody"));
    list.forEach(function (c) {
      var tr = el("tr", c[3] === true ? (c[2] < 0 ? "met penalty" : "met") : c[3] === false ? "not-met" : "no-verdict");
      tr.dataset.criterion = c[0];
      tr.appendChild(el("td", null, c[0]));
      tr.appendChild(el("td", "num", c[2] === null ? "" : String(c[2])));
      tr.appendChild(el("td", "criterion-verdict", c[4] !== null && c[4] !== undefined ? "level " + c[4] :
        c[3] === true ? (c[2] < 0 ? "met (penalty)" : "met") : c[3] === false ? "not met" : "no verdict"));
      tr.appendChild(el("td", "criterion-text", c[1]));
      body.appendChild(tr);
    });
    block.appendChild(el("h4", null, "Criteria (" + list.length + ")"));
    block.appendChild(table);
    return block;
  }

  function judgment(row, shard, packs) {
    var facets = index.facets;
    var model = facets.models[shard.m], judge = facets.judges[shard.j], benchmark = facets.benchmarks[shard.b];
    var opponent = row.o >= 0 ? facets.models[row.o] : null;
    var article = el("article", "judgment");
    article.dataset.id = String(row.id);
    var title = el("h3", "wrap", "item " + row.item + (row.w ? ", whole conversation (" + row.t + " turn" +
      (row.t > 1 ? "s" : "") + ")" : row.t > 1 ? ", turn " + row.t : ""));
    title.appendChild(el("small", null, " (" + facets.categories[row.c] + ")"));
    article.appendChild(title);
    article.appendChild(el("p", "meta wrap", benchmark + " · judge " + judge + " · " + model +
      (opponent ? " vs " + opponent : "") + " · " + facets.kinds[row.k]));
    var badges = el("p", "flags");
    FLAGS.forEach(function (flag, bit) {
      if (row.x & (1 << bit)) badges.appendChild(el("span", "badge flag-" + flag, FLAG_NAMES[flag]));
    });
    if (badges.childNodes.length) article.appendChild(badges);
    article.appendChild(el("p", "verdict", row.v));
    if (row.e) article.appendChild(el("p", "error", (row.fk ? row.fk + ": " : "") + row.e));
    if (row.cr) article.appendChild(criteria(row.cr));
    if (row.peers && row.peers.length) {
      var peers = el("p", "peers", "Other judges of this item: ");
      row.peers.forEach(function (peer, i) {
        peers.appendChild(document.createTextNode((i ? "; " : "") + peer[0] + ": " + (peer[1] === null ? "no verdict" :
          peer[1])));
      });
      peers.appendChild(document.createTextNode(" · "));
      var filters = {benchmark: benchmark, model: model, item: row.item, turn: String(row.t)};
      if (opponent) filters.opponent = opponent;
      peers.appendChild(link("all judges of this item", filters));
      article.appendChild(peers);
    }
    if (row.q === undefined) {
      article.appendChild(el("p", null, "The texts of this judgment are not in the inputs."));
      return article;
    }
    if (row.q.length) texts(article, shard, packs, row.q, "Question", "question");
    else if (row.p >= 0) texts(article, shard, packs, [row.p], "The judge's prompt (the question is not in the inputs)",
                               "prompt");
    else article.appendChild(el("p", null, "Question: not found in the inputs (a run's questions are read from its task file: where that reads data outside its folder, build the site with the run's --allow-path)."));
    var answers = el("div", "side-by-side");
    var own = el("div", "side"), other = el("div", "side");
    texts(own, shard, packs, row.a, "Answer of " + model, "answer");
    if (!row.a.length) own.appendChild(el("p", null, "The answer is not in the inputs."));
    texts(other, shard, packs, row.oa, "Answer of the " + row.ol, "opponent");
    answers.appendChild(own);
    if (row.oa.length) answers.appendChild(other);
    article.appendChild(answers);
    var replies = el("div", "side-by-side");
    row.r.forEach(function (at, i) {
      var side = el("div", "side");
      var label = row.r.length === 2 ? (i === 0 ? ", candidate shown first" : ", candidate shown second") :
        row.r.length > 2 ? " " + (i + 1) : "";
      side.appendChild(el("h4", null, "Judge's reply" + label));
      side.appendChild(el("pre", "text reply", textOf(shard, at, packs)));
      replies.appendChild(side);
    });
    if (!row.r.length) article.appendChild(el("p", null, "The judge's reply was not stored in the input."));
    else article.appendChild(replies);
    return article;
  }
})();
