<?php
/**
 * Plugin Name: anp-synth cache keys
 * Description: Sends anp-synth's cache keys (Surrogate-Key and xkey) on WordPress's public
 *              pages, in the scheme of the reference site (anp_synth/edge/keys.py), so that a
 *              Varnish with the shipped VCL in front of WordPress can be purged by key by
 *              `anp-synth import --purge varnish=URL`: exactly the pages that show a post.
 * Version: 0.1.0
 *
 * Install as wp-content/mu-plugins/anp-synth-keys.php, beside anp-synth.php (whose
 * `source_id` post meta names the posts). The keys:
 *
 *   single post            post-<source_id>
 *   home, /page/N          home home/page/N      + post-<source_id> of every post listed
 *   category (a stack)     stack-<slug> stack-<slug>/page/N   + the posts listed
 *   tag                    tag-<slug> tag-<slug>/page/N       + the posts listed
 *   feeds                  feed home             + the posts listed
 *   404                    404
 *
 * Slugs are the reference site's (anp_synth.site.terms.slugify) of the term's NAME, not
 * WordPress's own term slug, so the importer computes the same keys from the post it sent.
 * Logged-in users and anything but GET/HEAD get no keys (their pages are not cached).
 */

if (!defined('ABSPATH')) {
    exit;
}

const ANP_KEYS_MAX = 50;  // anp_synth.edge.keys.MAX_KEYS: within CloudFront's 50 and Akamai's 128

/**
 * The reference site's slug of a term name (anp_synth/site/terms.py, slugify), or null for a
 * name with no latin letter or digit: the site then uses a 6-byte BLAKE2b of the name, which
 * libsodium cannot make (its shortest BLAKE2b is 16 bytes), so such a term's listing carries
 * only the keys of the posts it lists (a create or delete there waits for the TTL).
 */
function anp_keys_slugify(string $name): ?string
{
    if (class_exists('Normalizer')) {
        $ascii = Normalizer::normalize($name, Normalizer::FORM_KD);
        $ascii = preg_replace('/[^\x00-\x7F]/', '', $ascii === false ? $name : $ascii);
    } else {
        // Without intl: transliterate accented latin letters only (what NFKD reduces to
        // ASCII); every other script is dropped, as NFKD + ASCII does, whatever the locale.
        $ascii = '';
        foreach (preg_split('//u', $name, -1, PREG_SPLIT_NO_EMPTY) as $char) {
            if (strlen($char) === 1) {
                $ascii .= $char;
            } elseif (preg_match('/^[\x{00C0}-\x{024F}\x{1E00}-\x{1EFF}]$/u', $char)) {
                $plain = @iconv('UTF-8', 'ASCII//TRANSLIT//IGNORE', $char);
                $ascii .= preg_replace('/[^A-Za-z]/', '', $plain === false ? '' : $plain);
            }
        }
    }
    $slug = trim(preg_replace('/[^a-z0-9]+/', '-', strtolower($ascii)), '-');
    $slug = trim(substr($slug, 0, 80), '-');
    if ($slug !== '') {
        return $slug;
    }
    return null;
}

/** True for a key every key header and the VCL carry as it is (edge/keys.py, is_safe_key). */
function anp_keys_safe(string $key): bool
{
    return (bool) preg_match('#^[A-Za-z0-9._~:/@+-]{1,1024}$#', $key);
}

function anp_keys_post(int $post_id): string
{
    $sid = get_post_meta($post_id, 'source_id', true);
    return is_string($sid) && $sid !== '' ? 'post-' . $sid : 'wp-post-' . $post_id;
}

/** The keys of the page WordPress is about to render. */
function anp_keys_for_request(): array
{
    global $wp_query;
    $keys = array();
    $page = max(1, (int) get_query_var('paged'));
    if (is_404()) {
        return array('404');
    }
    if (is_feed()) {
        $keys = array('feed', 'home');
    } elseif (is_singular('post')) {
        $keys[] = anp_keys_post((int) get_queried_object_id());
    } elseif (is_home() || is_front_page()) {
        $keys = array('home', 'home/page/' . $page);
    } elseif (is_category() || is_tag()) {
        $term = get_queried_object();
        $slug = anp_keys_slugify((string) $term->name);
        if ($slug !== null) {
            $family = (is_category() ? 'stack-' : 'tag-') . $slug;
            $keys = array($family, $family . '/page/' . $page);
        }
    }
    if (!is_singular() && isset($wp_query->posts) && is_array($wp_query->posts)) {
        foreach ($wp_query->posts as $post) {
            $keys[] = anp_keys_post((int) $post->ID);
        }
    }
    $keys = array_values(array_unique(array_filter($keys, 'anp_keys_safe')));
    return array_slice($keys, 0, ANP_KEYS_MAX);
}

add_action('template_redirect', function () {
    $method = isset($_SERVER['REQUEST_METHOD']) ? $_SERVER['REQUEST_METHOD'] : 'GET';
    if (is_admin() || is_user_logged_in() || !in_array($method, array('GET', 'HEAD'), true)) {
        return;
    }
    $keys = anp_keys_for_request();
    if ($keys && !headers_sent()) {
        $value = implode(' ', $keys);
        header('Surrogate-Key: ' . $value);
        header('xkey: ' . $value);
    }
}, 0);
