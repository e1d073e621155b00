# The anp-synth edge: Varnish in front of the reference site (or any origin that sends
# cache keys in an `xkey` header). Printed, with the backend and purgers filled in, by
#     anp-synth varnish vcl --backend 127.0.0.1:8000 [--purger 10.0.0.0/8 ...]
# Needs Varnish >= 6 and varnish-modules (vmod_xkey); Debian 12: varnish varnish-modules.
# docs/caching.md ("Behind a cache") says what it does and why.
vcl 4.1;

import std;
import xkey;

backend origin {
    .host = "@BACKEND_HOST@";
    .port = "@BACKEND_PORT@";
    .connect_timeout = 2s;
    .first_byte_timeout = 60s;
    .between_bytes_timeout = 10s;
}

# Who may PURGE. Loopback only unless `--purger` adds networks.
acl purgers {
    "127.0.0.1";
    "::1";
@PURGERS@
}

sub vcl_recv {
    # PURGE with `xkey: key1 key2 ...`: drops every object carrying one of the keys.
    if (req.method == "PURGE") {
        if (client.ip !~ purgers) {
            return (synth(403, "PURGE not allowed from " + client.ip));
        }
        if (!req.http.xkey) {
            return (synth(400, "PURGE needs an xkey header (the keys to purge)"));
        }
        set req.http.x-anp-purged = xkey.purge(req.http.xkey);
        return (synth(200, "Purged " + req.http.x-anp-purged + " objects"));
    }

    # Tracking parameters (the list in docs/caching.md, TRACKING_PARAMS in the site's
    # cache.py) do not change the page: strip them, so they neither bypass nor split the cache.
    if (req.url ~ "[?&](utm_[^=&]*|gclid|gbraid|wbraid|dclid|fbclid|msclkid|twclid|ttclid|yclid|igshid|mc_cid|mc_eid|_ga|_gl)(=|&|$)") {
        set req.url = regsuball(req.url, "([?&])(utm_[^=&]*|gclid|gbraid|wbraid|dclid|fbclid|msclkid|twclid|ttclid|yclid|igshid|mc_cid|mc_eid|_ga|_gl)(=[^&]*)?(?=&|$)", "\1");
        set req.url = regsuball(req.url, "&&+", "&");
        set req.url = regsub(req.url, "\?&", "?");
        set req.url = regsub(req.url, "[?&]+$", "");
    }

    # Cookies: only the session cookie changes a page (a member's page is private and
    # passed); analytics cookies are dropped so they never turn a reader into a pass.
    if (req.http.Cookie) {
        set req.http.Cookie = ";" + req.http.Cookie;
        set req.http.Cookie = regsuball(req.http.Cookie, ";\s+", ";");
        set req.http.Cookie = regsuball(req.http.Cookie, ";\s*(anp_session)\s*=", "; \1=");
        set req.http.Cookie = regsuball(req.http.Cookie, ";[^ ][^;]*", "");
        set req.http.Cookie = regsuball(req.http.Cookie, "^[; ]+|[; ]+$", "");
        if (req.http.Cookie == "") {
            unset req.http.Cookie;
        }
    }
    # Then Varnish's built-in rules: anything but GET/HEAD, a Cookie (the session) or an
    # Authorization header passes to the origin; the rest is looked up.
}

sub vcl_pass {
    set req.http.x-anp-pass = "1";
}

sub vcl_backend_response {
    # The origin's X-Cache is the origin's verdict at the time it was stored: keep it as
    # X-Origin-Cache (the site sends both) and never replay it as ours.
    unset beresp.http.X-Cache;
    # The TTL comes from the origin's Cache-Control (s-maxage, then max-age, minus Age);
    # no-store, private and Set-Cookie are not stored (Varnish's built-in rules).
}

sub vcl_deliver {
    # Our own verdict: HIT, MISS, or BYPASS (passed, or an answer we will not store), with
    # the origin's rule name; X-Varnish (two ids on a hit) and Age are Varnish's own.
    if (obj.hits > 0) {
        set resp.http.X-Cache = "HIT";
    } elsif (req.http.x-anp-pass || resp.http.Cache-Control ~ "(?i)no-store|private|no-cache") {
        set resp.http.X-Cache = "BYPASS";
    } else {
        set resp.http.X-Cache = "MISS";
    }
    if (resp.http.X-Origin-Cache ~ "; rule=") {
        set resp.http.X-Cache = resp.http.X-Cache + "; rule=" + regsub(resp.http.X-Origin-Cache, "^.*; rule=", "");
    }
    # Keys are for us: the client never sees them.
    unset resp.http.xkey;
    unset resp.http.Surrogate-Key;
    unset resp.http.Cache-Tag;
}

sub vcl_synth {
    # The answer to a PURGE says how many objects went, in a header a client can read.
    if (req.http.x-anp-purged) {
        set resp.http.X-Purged = req.http.x-anp-purged;
    }
}
