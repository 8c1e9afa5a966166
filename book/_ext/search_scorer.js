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

// Search snippets come from the text of the fetched page, where a formula is still its TeX source
// ("\(\lambda \sim \tilde{\mathcal D}\)"). Each formula is read out as plain text instead (Greek
// letters and common symbols as characters, font and spacing commands dropped: "λ ∼ D̃").
const TEX_SYMBOLS = {
  alpha: "α", beta: "β", gamma: "γ", delta: "δ", epsilon: "ε", varepsilon: "ε", zeta: "ζ", eta: "η",
  theta: "θ", vartheta: "ϑ", iota: "ι", kappa: "κ", lambda: "λ", mu: "μ", nu: "ν", xi: "ξ", pi: "π",
  rho: "ρ", sigma: "σ", tau: "τ", upsilon: "υ", phi: "φ", varphi: "φ", chi: "χ", psi: "ψ", omega: "ω",
  Gamma: "Γ", Delta: "Δ", Theta: "Θ", Lambda: "Λ", Xi: "Ξ", Pi: "Π", Sigma: "Σ", Phi: "Φ", Psi: "Ψ",
  Omega: "Ω", sim: "∼", approx: "≈", le: "≤", leq: "≤", ge: "≥", geq: "≥", ne: "≠", neq: "≠",
  in: "∈", notin: "∉", subset: "⊂", subseteq: "⊆", to: "→", rightarrow: "→", mapsto: "↦", infty: "∞",
  cdot: "·", cdots: "⋯", ldots: "…", dots: "…", times: "×", pm: "±", mp: "∓", sum: "∑", prod: "∏",
  int: "∫", partial: "∂", nabla: "∇", sqrt: "√", propto: "∝", ll: "≪", gg: "≫", equiv: "≡",
  top: "⊤", intercal: "⊤", mid: "|", vert: "|", lVert: "‖", rVert: "‖", Vert: "‖", langle: "⟨",
  rangle: "⟩", forall: "∀", exists: "∃", log: "log", exp: "exp", min: "min", max: "max",
  sup: "sup", inf: "inf", lim: "lim", det: "det", tr: "tr", quad: " ", qquad: " ",
};
// Commands whose argument is kept and whose name is dropped (fonts, text, operators).
const TEX_KEEP_ARGUMENT = /\\(?:mathbb|mathcal|mathfrak|mathrm|mathbf|mathsf|mathit|mathscr|boldsymbol|bm|text|textrm|textbf|textit|operatorname|mbox|hat|widehat|bar|overline|check|vec|underline)\s*\{([^{}]*)\}/g;

function texToText(tex) {
  let s = tex.replace(/^\s*(\\\(|\\\[|\$\$?)|(\\\)|\\\]|\$\$?)\s*$/g, "");
  s = s.replace(/\\(?:tilde|widetilde)\s*\{([^{}]*)\}/g, "$1\u0303").replace(/\\tilde\s*(\\?\w)/g, "$1\u0303");
  for (let i = 0; i < 3; i++) s = s.replace(TEX_KEEP_ARGUMENT, "$1");
  s = s.replace(/\\frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}/g, "($1)/($2)");
  s = s.replace(/\\(?:left|right|big|Big|bigg|Bigg)\b\s*/g, "").replace(/\\[,;:!> ]/g, " ");
  s = s.replace(/\\([A-Za-z]+)/g, (m, name) => (name in TEX_SYMBOLS ? TEX_SYMBOLS[name] : ""));
  s = s.replace(/\\\{/g, "{").replace(/\\\}/g, "}").replace(/[{}]/g, "").replace(/&|\\\\/g, " ");
  return s.replace(/\s+/g, " ").trim();
}

if (typeof Search !== "undefined") {
  const pageText = Search.htmlToText;
  Search.htmlToText = (htmlString, anchor) => {
    const doc = new DOMParser().parseFromString(htmlString, "text/html");
    doc.querySelectorAll("span.math, div.math").forEach((el) => {
      el.textContent = ` ${texToText(el.textContent)} `;
    });
    return pageText(doc.documentElement.outerHTML, anchor);
  };
}
