// The book's search ranking (Sphinx's html_search_scorer): Sphinx's default weights, and every
// chapter or prose page ranked above the library reference (book/reference/), whose object
// entries would otherwise outrank the chapters that explain them.
var Scorer = {
  score: (result) => {
    const [docname, , , , score] = result;
    return docname.startsWith("reference/") ? score : score + 1000;
  },
  objNameMatch: 11,
  objPartialMatch: 6,
  objPrio: {0: 15, 1: 5, 2: -5},
  objPrioDefault: 0,
  title: 15,
  partialTitle: 7,
  term: 5,
  partialTerm: 2,
};
