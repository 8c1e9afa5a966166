// The book's search scorer (html_search_scorer in _config.yml). Sphinx stems "MixupE" to "mixup",
// which every page contains, so the MixupE pages ranked about 19th. A result whose title holds a
// query word as it was typed (a whole word, any case) is lifted above those that only match its stem.
var Scorer = {
  score: (result) => {
    const [docname, title, anchor, descr, score, filename] = result;
    const query = new URLSearchParams(window.location.search).get("q") || "";
    const words = query.toLowerCase().split(/\s+/).filter((w) => w.length > 1);
    const titleWords = new Set((title || "").toLowerCase().split(/[^\p{L}\p{N}]+/u));
    return score + 30 * words.filter((w) => titleWords.has(w)).length;
  },
  // Defining Scorer replaces Sphinx's default object: its weights, unchanged.
  objNameMatch: 11,
  objPartialMatch: 6,
  objPrio: { 0: 15, 1: 5, 2: -5 },
  objPrioDefault: 0,
  title: 15,
  partialTitle: 7,
  term: 5,
  partialTerm: 2,
};
