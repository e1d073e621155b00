// Every post in this folder: its layout, and its page at /posts/<slug>/.
module.exports = {
  layout: "post.liquid",
  eleventyComputed: {
    permalink: (data) => `/posts/${data.slug}/`,
  },
};
