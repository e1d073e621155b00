// A minimal Eleventy site laid out by `anp-synth site init eleventy`: posts in posts/ (their
// layout and permalink come from posts/posts.11tydata.js), a paginated home page, a
// paginated listing per tag and per category, an RSS feed. Build with the Eleventy pinned in
// anp-synth's tools/eleventy: `npx --prefix /path/to/anp-synth/tools/eleventy eleventy`.
const PER_PAGE = 20;

module.exports = function (eleventyConfig) {
  const slugify = eleventyConfig.getFilter("slugify");
  const newest = (api) =>
    api
      .getFilteredByGlob("./posts/*.md")
      .sort((a, b) => b.date - a.date || (a.data.source_id < b.data.source_id ? 1 : -1));
  const terms = (posts, key) => {
    const byTerm = new Map();
    for (const post of posts) {
      for (const term of post.data[key] || []) {
        if (!byTerm.has(term)) byTerm.set(term, []);
        byTerm.get(term).push(post);
      }
    }
    return [...byTerm.entries()].sort(([a], [b]) => a.toLowerCase().localeCompare(b.toLowerCase()));
  };
  const pages = (base, title, term, posts) => {
    const total = Math.max(1, Math.ceil(posts.length / PER_PAGE));
    const url = (n) => (n === 1 ? base : `${base}page/${n}/`);
    return Array.from({ length: total }, (_, i) => ({
      title,
      term,
      posts: posts.slice(i * PER_PAGE, (i + 1) * PER_PAGE),
      number: i + 1,
      total,
      url: url(i + 1),
      prev: i > 0 ? url(i) : null,
      next: i + 1 < total ? url(i + 2) : null,
    }));
  };

  eleventyConfig.addCollection("anpPosts", newest);
  eleventyConfig.addCollection("listings", (api) => {
    const posts = newest(api);
    const out = pages("/", null, null, posts);
    for (const kind of ["tags", "categories"]) {
      for (const [term, list] of terms(posts, kind)) {
        out.push(...pages(`/${kind}/${slugify(term)}/`, term, term, list));
      }
    }
    return out;
  });
  eleventyConfig.addCollection("termIndexes", (api) => {
    const posts = newest(api);
    return ["tags", "categories"].map((kind) => ({
      kind,
      url: `/${kind}/`,
      terms: terms(posts, kind).map(([name, list]) => ({
        name,
        url: `/${kind}/${slugify(name)}/`,
        count: list.length,
      })),
    }));
  });

  return {
    dir: { input: ".", includes: "_includes", output: "_site" },
    templateFormats: ["md", "liquid"],
    markdownTemplateEngine: false, // a post's text is never a template
    htmlTemplateEngine: "liquid",
  };
};
