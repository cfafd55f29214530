// Search across the transcripts, offline: the index is a set of scripts the page loads on
// demand (a page opened from file:// may load scripts, not fetch files). Words compare
// lowercased and without accents, as the index was made (render/search.py).
(function () {
  "use strict";
  var own = Object.prototype.hasOwnProperty;
  var S = (window.TranscribeSearch = {
    episodes: [],
    words: {},
    texts: {},
    setEpisodes: function (list) { S.episodes = list; },
    addWords: function (name, table) { S.words[name] = table; },
    addText: function (key, rows) { S.texts[key] = rows; },
    start: start,
    search: search,
  });
  var MAX_EPISODES = 50, HITS_PER_EPISODE = 3;

  function normalize(text) {
    var words = String(text).normalize("NFKD").replace(/\p{M}/gu, "").toLowerCase()
      .match(/[\p{L}\p{N}]+/gu) || [];
    return [].concat.apply([], words.map(pairs));
  }
  // Chinese, Japanese (kana) and Thai run words together: each run of them is cut into
  // overlapping pairs of characters, as the index was (render/search.py)
  var UNSPACED = /[\u0e00-\u0e7f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+/g;
  function pairs(word) {
    var parts = [], last = 0, run;
    UNSPACED.lastIndex = 0;
    while ((run = UNSPACED.exec(word)) !== null) {
      if (run.index > last) parts.push(word.slice(last, run.index));
      var letters = Array.from(run[0]);
      if (letters.length === 1) parts.push(letters[0]);
      for (var i = 0; i + 1 < letters.length; i++) parts.push(letters[i] + letters[i + 1]);
      last = run.index + run[0].length;
    }
    if (last < word.length) parts.push(word.slice(last));
    return parts;
  }
  function shardOf(word) {
    var first = word.charAt(0);
    return /^[a-z0-9]$/.test(first) ? first : "_";
  }
  function clock(seconds) {
    var total = Math.max(0, Math.floor(seconds)), h = Math.floor(total / 3600),
      m = Math.floor((total % 3600) / 60), s = total % 60;
    var pad = function (n) { return (n < 10 ? "0" : "") + n; };
    return h ? h + ":" + pad(m) + ":" + pad(s) : m + ":" + pad(s);
  }
  var loading = {};
  function load(src) {
    if (!loading[src]) {
      loading[src] = new Promise(function (resolve) {
        var script = document.createElement("script");
        script.src = src;
        script.onload = function () { resolve(true); };
        script.onerror = function () { resolve(false); };
        document.head.appendChild(script);
      });
    }
    return loading[src];
  }

  // the episodes (by number) that say a word; the last word of a query may be unfinished
  function postings(word, prefix) {
    var table = S.words[shardOf(word)] || {};
    if (!prefix) return own.call(table, word) ? table[word] : [];
    var found = {};
    Object.keys(table).forEach(function (entry) {
      if (entry.lastIndexOf(word, 0) === 0) table[entry].forEach(function (n) { found[n] = true; });
    });
    return Object.keys(found).map(Number);
  }

  // where in an episode the words are said one after another: [{start, row}]
  function phraseHits(rows, query, prefix) {
    var words = [], owner = [], hits = [];
    rows.forEach(function (row, index) {
      normalize(row[1]).forEach(function (w) { words.push(w); owner.push(index); });
    });
    for (var i = 0; i + query.length <= words.length && hits.length < HITS_PER_EPISODE; i++) {
      var j = 0;
      for (; j < query.length; j++) {
        var last = prefix && j === query.length - 1;
        if (last ? words[i + j].lastIndexOf(query[j], 0) !== 0 : words[i + j] !== query[j]) break;
      }
      if (j === query.length) {
        var row = owner[i];
        if (!hits.length || hits[hits.length - 1].row !== row) hits.push({ start: rows[row][0], row: row });
        i += query.length - 1;
      }
    }
    return hits;
  }

  // results: [{episode: [key, title, show, date], hits: [{start, row, text}]}], newest first
  function search(text) {
    var query = normalize(text);
    if (!query.length) return Promise.resolve([]);
    var prefix = isPrefix(text, query);
    var shards = {};
    query.forEach(function (w) { shards[shardOf(w)] = true; });
    return Promise.all(Object.keys(shards).map(function (name) {
      return load("search/words-" + name + ".js");
    })).then(function () {
      var common = null;
      query.forEach(function (word, i) {
        var these = {};
        postings(word, prefix && i === query.length - 1).forEach(function (n) { these[n] = true; });
        common = common === null ? these : Object.keys(common).reduce(function (kept, n) {
          if (these[n]) kept[n] = true;
          return kept;
        }, {});
      });
      var numbers = Object.keys(common || {}).map(Number).sort(function (a, b) { return a - b; });
      var candidates = numbers.map(function (n) { return S.episodes[n]; }).filter(Boolean);
      return phraseResults(candidates, query, prefix, []);
    });
  }

  // the episodes (newest first) that say the words one after another, read a batch at a
  // time until MAX_EPISODES have them: many may say each word, few the phrase
  function phraseResults(candidates, query, prefix, found) {
    if (!candidates.length || found.length >= MAX_EPISODES) return Promise.resolve(found);
    var batch = candidates.slice(0, MAX_EPISODES), rest = candidates.slice(MAX_EPISODES);
    return Promise.all(batch.map(function (e) {
      return load("search/text/" + encodeURIComponent(e[0]) + ".js");
    })).then(function () {
      batch.forEach(function (episode) {
        var rows = S.texts[episode[0]] || [];
        var hits = phraseHits(rows, query, prefix).map(function (hit) {
          return { start: hit.start, row: hit.row, text: rows[hit.row][1], speaker: rows[hit.row][2] || "" };
        });
        if (hits.length && found.length < MAX_EPISODES) found.push({ episode: episode, hits: hits });
      });
      return phraseResults(rest, query, prefix, found);
    });
  }

  // the last word counts as unfinished (a prefix) when it has 3 letters or more and the
  // query does not end in a space
  function isPrefix(text, query) {
    return query.length > 0 && query[query.length - 1].length >= 3 && !/\s$/.test(text);
  }

  // the text, with the query's words marked (built as nodes: transcript text is never HTML)
  function marked(text, query, prefix) {
    var fragment = document.createDocumentFragment();
    (text.match(/[\p{L}\p{N}]+|[^\p{L}\p{N}]+/gu) || []).forEach(function (piece) {
      var hit = normalize(piece).some(function (word) {
        return query.some(function (q, i) {
          return word === q || (prefix && i === query.length - 1 && word.lastIndexOf(q, 0) === 0);
        });
      });
      if (hit) {
        var mark = document.createElement("mark");
        mark.textContent = piece;
        fragment.appendChild(mark);
      } else {
        fragment.appendChild(document.createTextNode(piece));
      }
    });
    return fragment;
  }

  function show(text, results) {
    var list = document.getElementById("results"), status = document.getElementById("search-status");
    var query = normalize(text), prefix = isPrefix(text, query);
    list.textContent = "";
    var count = results.reduce(function (n, r) { return n + r.hits.length; }, 0);
    status.textContent = !query.length ? "" : count
      ? count + " moment" + (count === 1 ? "" : "s") + " in " + results.length + " episode" +
        (results.length === 1 ? "" : "s")
      : "No episode says \u201c" + text + "\u201d.";
    if (results.length >= MAX_EPISODES) status.textContent += " (the newest " + MAX_EPISODES + " episodes)";
    results.forEach(function (result) {
      var e = result.episode, item = document.createElement("li"), heading = document.createElement("h2");
      heading.textContent = e[1];
      var meta = document.createElement("div");
      meta.className = "meta";
      meta.textContent = [e[2], e[3]].filter(Boolean).join(" · ");
      item.appendChild(heading);
      item.appendChild(meta);
      var moments = document.createElement("ul");
      result.hits.forEach(function (hit) {
        var line = document.createElement("li"), link = document.createElement("a");
        link.href = "episodes/" + encodeURIComponent(e[0]) + ".html#t=" + clock(hit.start);
        link.className = "ts";
        link.textContent = clock(hit.start);
        line.appendChild(link);
        line.appendChild(document.createTextNode(" "));
        if (hit.speaker) {  // who said it (text, never HTML)
          var who = document.createElement("span");
          who.className = "who";
          who.textContent = hit.speaker;
          line.appendChild(who);
          line.appendChild(document.createTextNode(" "));
        }
        line.appendChild(marked(hit.text, query, prefix));
        moments.appendChild(line);
      });
      item.appendChild(moments);
      list.appendChild(item);
    });
  }

  function start() {
    var input = document.getElementById("q");
    var text = new URLSearchParams(location.search).get("q") || "";
    input.value = text;
    document.getElementById("site-search").value = text;
    if (text) search(text).then(function (results) { show(text, results); });
    input.focus();
  }
})();
