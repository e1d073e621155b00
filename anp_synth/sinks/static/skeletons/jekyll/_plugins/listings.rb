# The listing pages of the site: the home page, one per tag and one per category, each
# paginated (site.config["paginate_by"] posts a page), and an index of the terms.
module AnpSynth
  class ListingPage < Jekyll::PageWithoutAFile
    def initialize(site, dir, data)
      super(site, site.source, dir, "index.html")
      self.data = data
    end
  end

  class Listings < Jekyll::Generator
    safe true
    priority :low

    def generate(site)
      per_page = (site.config["paginate_by"] || 20).to_i
      newest_first = ->(docs) { docs.sort_by { |d| [d.date, d.id] }.reverse }
      paginate(site, "", site.config["title"], nil, newest_first.call(site.posts.docs), per_page)
      { "tags" => site.tags, "categories" => site.categories }.each do |kind, terms|
        terms.each do |term, docs|
          dir = "#{kind}/#{Jekyll::Utils.slugify(term)}"
          paginate(site, dir, term, term, newest_first.call(docs), per_page)
        end
        site.pages << ListingPage.new(site, kind, {
          "layout" => "terms", "title" => kind, "base" => "/#{kind}/",
          "terms" => terms.sort_by { |term, _| term.downcase }
        })
      end
    end

    def paginate(site, dir, title, term, docs, per_page)
      pages = [1, (docs.size.to_f / per_page).ceil].max
      url = ->(n) { n == 1 ? "/#{dir}/".squeeze("/") : "/#{dir}/page/#{n}/".squeeze("/") }
      (1..pages).each do |n|
        site.pages << ListingPage.new(site, n == 1 ? dir : "#{dir}/page/#{n}", {
          "layout" => "listing", "title" => title, "term" => term,
          "listed" => docs[(n - 1) * per_page, per_page] || [],
          "page_number" => n, "total_pages" => pages,
          "prev_url" => (n > 1 ? url.call(n - 1) : nil),
          "next_url" => (n < pages ? url.call(n + 1) : nil)
        })
      end
    end
  end
end
