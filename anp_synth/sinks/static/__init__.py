"""Static-site sinks: posts as Markdown files for Hugo, Jekyll and Eleventy, and their site skeletons."""
