<?php
/**
 * Plugin Name: anp-synth import key
 * Description: Registers the post meta that anp-synth writes (source_id, content hash and the
 *              post-meta box) and lets the REST API find posts by source_id, so imports are
 *              upserts keyed by source_id rather than by title or slug.
 * Version: 2
 *
 * Install: copy this file to wp-content/mu-plugins/anp-synth.php (a must-use plugin needs no
 * activation). It changes nothing for posts that anp-synth did not write.
 *
 * Why it is needed: WordPress drops unregistered meta silently over REST, and core REST
 * cannot filter by meta (`?meta_key=` is ignored and returns every post), so without it an
 * upsert could not find the post it must update.
 */

if (!defined('ABSPATH')) {
    exit;
}

const ANP_SYNTH_PLUGIN_VERSION = 2;

/** Meta keys and their REST types. JSON-valued fields are stored as JSON strings. */
function anp_synth_meta_fields() {
    return array(
        'source_id'             => 'string',  // the import key: alphanode-NNNNNN
        'anp_hash'              => 'string',  // content hash of the source post (24 hex)
        'anp_post'              => 'string',  // the source post as JSON, for rollback and verify
        'anp_author'            => 'string',
        'anp_locale'            => 'string',
        'anp_topic'             => 'string',
        'anp_summary'           => 'string',
        'anp_brief'             => 'string',
        'anp_code_language'     => 'string',
        'anp_difficulty'        => 'string',
        'anp_reading_time'      => 'integer',
        'anp_view_count'        => 'integer',
        'anp_reference'         => 'string',
        'anp_outline'           => 'string',  // JSON object
        'anp_stack'             => 'string',  // JSON list
        'anp_tools'             => 'string',  // JSON list
        'anp_score'             => 'string',  // JSON object
        'anp_revision'          => 'string',  // JSON object
        'anp_flags'             => 'string',  // JSON object
        'anp_checklist'         => 'string',  // JSON list
        'anp_entities'          => 'string',  // JSON list
        'anp_image_sources'     => 'string',  // JSON list
        'anp_payload'           => 'string',  // JSON object
        'anp_notes'             => 'string',  // JSON list
        'anp_similar'           => 'string',  // JSON list of source ids
    );
}

add_action('init', function () {
    foreach (anp_synth_meta_fields() as $key => $type) {
        register_post_meta('post', $key, array(
            'type'          => $type,
            'single'        => true,
            'show_in_rest'  => true,
            'auth_callback' => function ($allowed, $meta_key, $post_id) {
                return current_user_can('edit_post', $post_id);
            },
        ));
    }
});

/**
 * On /wp/v2/posts: `?source_id=a,b,c` finds posts by source id; `?anp_imported=1` lists the
 * imported posts in source id order (then post id), from the keyset cursor
 * `?anp_after=SOURCE_ID` or `?anp_after=SOURCE_ID|POST_ID`.
 */
add_filter('rest_post_collection_params', function ($params) {
    $params['source_id'] = array(
        'description' => 'Limit to posts with these anp-synth source ids (comma-separated).',
        'type'        => 'array',
        'items'       => array('type' => 'string'),
    );
    $params['anp_imported'] = array(
        'description' => 'Only posts that anp-synth imported, in source id order.',
        'type'        => 'boolean',
    );
    $params['anp_after'] = array(
        'description' => 'Keyset cursor for anp_imported: SOURCE_ID or SOURCE_ID|POST_ID.',
        'type'        => 'string',
    );
    return $params;
});

add_filter('rest_post_query', function ($args, $request) {
    $ids = $request['source_id'];
    if (!empty($ids)) {
        $args['meta_query'] = array(array(
            'key'     => 'source_id',
            'value'   => array_values(array_map('strval', (array) $ids)),
            'compare' => 'IN',
        ));
    } elseif (!empty($request['anp_imported'])) {
        $after = (string) $request['anp_after'];
        $parts = explode('|', $after, 2);
        $args['anp_list'] = array('sid' => $parts[0], 'id' => isset($parts[1]) ? (int) $parts[1] : PHP_INT_MAX);
        if ($after === '') {
            $args['anp_list'] = array('sid' => '', 'id' => 0);
        }
    }
    return $args;
}, 10, 2);

add_filter('posts_join', function ($join, $query) {
    if ($query->get('anp_list')) {
        global $wpdb;
        $join .= " INNER JOIN {$wpdb->postmeta} AS anp_sid ON (anp_sid.post_id = {$wpdb->posts}.ID"
            . " AND anp_sid.meta_key = 'source_id')";
    }
    return $join;
}, 10, 2);

add_filter('posts_where', function ($where, $query) {
    $cursor = $query->get('anp_list');
    if ($cursor) {
        global $wpdb;
        // Without a post id in the cursor, every post of that source id counts as seen.
        $where .= $wpdb->prepare(
            " AND (anp_sid.meta_value > %s OR (anp_sid.meta_value = %s AND {$wpdb->posts}.ID > %d))",
            $cursor['sid'], $cursor['sid'], $cursor['id']
        );
    }
    return $where;
}, 10, 2);

add_filter('posts_orderby', function ($orderby, $query) {
    if ($query->get('anp_list')) {
        global $wpdb;
        return "anp_sid.meta_value ASC, {$wpdb->posts}.ID ASC";
    }
    return $orderby;
}, 10, 2);

/**
 * One post per source_id, enforced on the server: a create that carries a source_id takes a
 * MariaDB named lock on it and fails with 409 (and the existing id) when a post already holds
 * it. The lock is held until the meta is written, so two concurrent creates (a client retry
 * after a timeout while the first request still runs) cannot both insert.
 */
$GLOBALS['anp_synth_locks'] = array();

function anp_synth_release_locks() {
    global $wpdb;
    while ($key = array_pop($GLOBALS['anp_synth_locks'])) {
        $wpdb->query($wpdb->prepare('SELECT RELEASE_LOCK(%s)', $key));
    }
}

add_filter('rest_pre_insert_post', function ($prepared, $request) {
    if (!empty($prepared->ID) || is_wp_error($prepared)) {
        return $prepared;  // an update: the post already has its id
    }
    $meta = $request['meta'];
    if (!is_array($meta) || empty($meta['source_id']) || !is_string($meta['source_id'])) {
        return $prepared;
    }
    global $wpdb;
    $key = 'anp-synth:' . md5($meta['source_id']);
    if (!$wpdb->get_var($wpdb->prepare('SELECT GET_LOCK(%s, 10)', $key))) {
        return new WP_Error('anp_source_id_busy', 'Another request is writing this source_id.',
            array('status' => 503));
    }
    $GLOBALS['anp_synth_locks'][] = $key;
    $existing = $wpdb->get_var($wpdb->prepare(
        "SELECT p.ID FROM {$wpdb->postmeta} m JOIN {$wpdb->posts} p ON p.ID = m.post_id
         WHERE m.meta_key = 'source_id' AND m.meta_value = %s AND p.post_type = 'post'
         ORDER BY p.ID LIMIT 1",
        $meta['source_id']
    ));
    if ($existing) {
        anp_synth_release_locks();
        return new WP_Error('anp_duplicate_source_id', 'A post with this source_id exists.',
            array('status' => 409, 'id' => (int) $existing));
    }
    return $prepared;
}, 10, 2);
add_action('rest_after_insert_post', 'anp_synth_release_locks');
add_action('shutdown', 'anp_synth_release_locks');

/** GET /wp-json/anp-synth/v1/info: lets the sink check that this plugin is installed. */
add_action('rest_api_init', function () {
    register_rest_route('anp-synth/v1', '/info', array(
        'methods'             => 'GET',
        'permission_callback' => '__return_true',
        'callback'            => function () {
            return array(
                'plugin'  => 'anp-synth',
                'version' => ANP_SYNTH_PLUGIN_VERSION,
                'meta'    => array_keys(anp_synth_meta_fields()),
                'bulk'    => anp_synth_bulk_announcement(),
            );
        },
    ));
});

/* ============================================================================================
 * The bulk route: POST /wp-json/anp/v1/posts/bulk
 *
 * Body: {"mode": "hooks"|"direct", "posts": [ITEM, …]} with at most ANP_SYNTH_BULK_MAX items and
 * ANP_SYNTH_BULK_MAX_BYTES bytes; an `Idempotency-Key` header makes a retried call get its first
 * answer (kept a day, at most a million calls). ITEM: {"source_id", "hash", "title", "slug", "content", "excerpt", "date_gmt", "tags": [names],
 * "categories": [names], "meta": {registered key: value}}.
 * Answer: {"mode", "results": [{"index", "source_id", "status", "outcome"
 * (created|updated|unchanged), "id", "link", "hash", "previous" (the stored source post JSON of
 * an updated post, or null), "replayed"} or {"index", "source_id", "status", "code",
 * "message"}]} in input order. One bad item fails only itself.
 *
 * Both modes: named locks on every source id of the call (one statement), one indexed query for
 * the posts that hold them, terms resolved in one query per taxonomy and created when missing
 * (manage_categories), all writes and the idempotency answers in ONE transaction, term counts
 * recomputed once at the end of the call, object caches of the touched posts cleaned.
 *   hooks:  wp_insert_post/wp_update_post per post (hooks and plugins see real posts), with
 *           wp_defer_term_counting, wp_defer_comment_counting, wp_suspend_cache_invalidation
 *           and revisions off; post meta written in one multi-row statement.
 *   direct: multi-row INSERT/upsert into posts, postmeta and term_relationships; no
 *           save_post/wp_insert_post/transition_post_status hooks of other plugins run.
 * ========================================================================================== */

const ANP_SYNTH_BULK_MAX = 200;                    // posts per call (measured, docs/wordpress.md)
const ANP_SYNTH_BULK_MAX_BYTES = 16 * 1024 * 1024; // request body
const ANP_SYNTH_SCHEMA = 1;                        // the replay table and the source_id index
const ANP_SYNTH_REPLAY_MAX_ROWS = 1000000;         // idempotency answers kept at most …
const ANP_SYNTH_REPLAY_MAX_AGE = 86400;            // … and for at most a day (an import's life)
// direct mode writes the tables itself: only the layouts it was tested on.
const ANP_SYNTH_DIRECT_DB_VERSIONS = array(53496); // WordPress 6.1 (Debian 12's 6.1.x)

function anp_synth_replay_table() {
    global $wpdb;
    return $wpdb->prefix . 'anp_synth_replay';
}

function anp_synth_bulk_announcement() {
    $direct = anp_synth_direct_refusal();
    return array(
        'route'     => '/anp/v1/posts/bulk',
        'max_posts' => ANP_SYNTH_BULK_MAX,
        'max_bytes' => ANP_SYNTH_BULK_MAX_BYTES,
        'modes'     => $direct === null ? array('hooks', 'direct') : array('hooks'),
        'direct'    => $direct === null ? 'ok' : $direct,
    );
}

/** The replay table and the (meta_key, meta_value) index on postmeta, made on first use. */
function anp_synth_ensure_schema() {
    if ((int) get_option('anp_synth_schema') === ANP_SYNTH_SCHEMA) {
        return true;
    }
    global $wpdb;
    $table = anp_synth_replay_table();
    $charset = $wpdb->get_charset_collate();
    $ok = $wpdb->query("CREATE TABLE IF NOT EXISTS $table (
        seq BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
        ikey VARCHAR(191) NOT NULL,
        created BIGINT NOT NULL,
        answer LONGTEXT NOT NULL,
        UNIQUE KEY ikey (ikey),
        KEY created (created)
    ) $charset");
    if ($ok === false) {
        return new WP_Error('anp_schema', 'cannot create the replay table: ' . $wpdb->last_error,
            array('status' => 500));
    }
    // The lookup by source_id stays constant-cost as the site grows: without this index every
    // lookup scans all source_id rows (core indexes meta_key alone).
    $has = $wpdb->get_var("SHOW INDEX FROM {$wpdb->postmeta} WHERE Key_name = 'anp_source_id'");
    if (!$has) {
        $ok = $wpdb->query("ALTER TABLE {$wpdb->postmeta} ADD INDEX anp_source_id (meta_key(32), meta_value(64))");
        if ($ok === false) {
            return new WP_Error('anp_schema', 'cannot index postmeta: ' . $wpdb->last_error,
                array('status' => 500));
        }
    }
    update_option('anp_synth_schema', ANP_SYNTH_SCHEMA, false);
    return true;
}

/** Undo anp_synth_ensure_schema (anp-synth wordpress uninstall). */
function anp_synth_drop_schema() {
    global $wpdb;
    $dropped = array();
    $table = anp_synth_replay_table();
    if ($wpdb->get_var($wpdb->prepare('SHOW TABLES LIKE %s', $table))) {
        $wpdb->query("DROP TABLE $table");
        $dropped[] = $table;
    }
    if ($wpdb->get_var("SHOW INDEX FROM {$wpdb->postmeta} WHERE Key_name = 'anp_source_id'")) {
        $wpdb->query("ALTER TABLE {$wpdb->postmeta} DROP INDEX anp_source_id");
        $dropped[] = $wpdb->postmeta . '.anp_source_id';
    }
    delete_option('anp_synth_schema');
    return $dropped;
}

/** Null when direct mode may write this site's tables, else why not. */
function anp_synth_direct_refusal() {
    global $wpdb, $wp_db_version;
    if (!in_array((int) $wp_db_version, ANP_SYNTH_DIRECT_DB_VERSIONS, true)) {
        return 'direct mode was tested on WordPress database version '
            . implode(', ', ANP_SYNTH_DIRECT_DB_VERSIONS) . '; this site has ' . (int) $wp_db_version;
    }
    if (is_multisite()) {
        return 'direct mode is not tested on multisite';
    }
    $expected = array(
        $wpdb->posts => 'ID,post_author,post_date,post_date_gmt,post_content,post_title,post_excerpt,'
            . 'post_status,comment_status,ping_status,post_password,post_name,to_ping,pinged,'
            . 'post_modified,post_modified_gmt,post_content_filtered,post_parent,guid,menu_order,'
            . 'post_type,post_mime_type,comment_count',
        $wpdb->postmeta => 'meta_id,post_id,meta_key,meta_value',
        $wpdb->term_relationships => 'object_id,term_taxonomy_id,term_order',
    );
    $cached = wp_cache_get('layout', 'anp_synth');
    if ($cached === false) {
        $cached = array();
        foreach ($expected as $table => $cols) {
            $cached[$table] = implode(',', $wpdb->get_col("SHOW COLUMNS FROM $table"));
        }
        wp_cache_set('layout', $cached, 'anp_synth');
    }
    foreach ($expected as $table => $cols) {
        if ($cached[$table] !== $cols) {
            return "direct mode does not know the layout of $table (columns {$cached[$table]})";
        }
    }
    $lock_mode = (int) $wpdb->get_var('SELECT @@innodb_autoinc_lock_mode');
    if ($lock_mode > 1) {
        return 'direct mode needs consecutive AUTO_INCREMENT ids (innodb_autoinc_lock_mode 0 or 1)';
    }
    return null;
}

add_action('rest_api_init', function () {
    register_rest_route('anp/v1', '/posts/bulk', array(
        'methods'             => 'POST',
        'permission_callback' => function () {
            if (!current_user_can('edit_posts') || !current_user_can('publish_posts')) {
                return new WP_Error('rest_forbidden', 'Importing needs edit_posts and publish_posts.',
                    array('status' => rest_authorization_required_code()));
            }
            return true;
        },
        'callback'            => 'anp_synth_bulk',
    ));
    register_rest_route('anp/v1', '/schema', array(
        'methods'             => 'DELETE',
        'permission_callback' => function () {
            return current_user_can('manage_options');
        },
        'callback'            => function () {
            return array('dropped' => anp_synth_drop_schema());
        },
    ));
});

/** One item's refusal, as it appears in the answer. */
function anp_synth_refusal($index, $sid, $status, $code, $message) {
    return array('index' => $index, 'source_id' => $sid, 'status' => $status, 'code' => $code,
        'message' => $message);
}

/** A valid item as the sink sends it, or the reason it is not (validated as the model does). */
function anp_synth_check_item($item) {
    if (!is_array($item)) {
        return 'item: expected an object';
    }
    if (!isset($item['source_id']) || !is_string($item['source_id'])
        || !preg_match('/^alphanode-\d{6}$/', $item['source_id'])) {
        return 'source_id: expected alphanode-NNNNNN';
    }
    if (!isset($item['hash']) || !is_string($item['hash']) || !preg_match('/^[0-9a-f]{24}$/', $item['hash'])) {
        return 'hash: expected 24 hex digits';
    }
    foreach (array('title' => 1000, 'slug' => 200, 'content' => 2000000, 'excerpt' => 100000) as $f => $max) {
        if (!isset($item[$f]) || !is_string($item[$f]) || $item[$f] === '' || strlen($item[$f]) > $max) {
            return "$f: expected a non-empty string of at most $max bytes";
        }
    }
    if (!preg_match('/^[a-z0-9]+(?:-[a-z0-9]+)*$/', $item['slug'])) {
        return 'slug: expected lowercase words joined by hyphens';
    }
    if (!isset($item['date_gmt']) || !is_string($item['date_gmt'])
        || !preg_match('/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/', $item['date_gmt'])
        || strtotime($item['date_gmt'] . 'Z') === false) {
        return 'date_gmt: expected YYYY-MM-DDTHH:MM:SS';
    }
    foreach (array('tags', 'categories') as $f) {
        if (!isset($item[$f]) || !is_array($item[$f]) || count($item[$f]) > 100) {
            return "$f: expected a list of at most 100 names";
        }
        foreach ($item[$f] as $name) {
            if (!is_string($name) || trim($name) === '' || strlen($name) > 200) {
                return "$f: expected names of 1-200 bytes";
            }
        }
    }
    if (!isset($item['meta']) || !is_array($item['meta'])) {
        return 'meta: expected an object';
    }
    $fields = anp_synth_meta_fields();
    foreach ($item['meta'] as $key => $value) {
        if (!isset($fields[$key])) {
            return "meta.$key: not a registered anp-synth meta key";
        }
        $ok = $fields[$key] === 'integer' ? is_int($value) : is_string($value);
        if (!$ok) {
            return "meta.$key: expected a " . $fields[$key];
        }
    }
    if (!isset($item['meta']['source_id']) || $item['meta']['source_id'] !== $item['source_id']) {
        return 'meta.source_id: must equal source_id';
    }
    if (!isset($item['meta']['anp_hash']) || $item['meta']['anp_hash'] !== $item['hash']) {
        return 'meta.anp_hash: must equal hash';
    }
    return null;
}

/** `IN (…)` with placeholders for the values (strings). */
function anp_synth_in($values, $format = '%s') {
    global $wpdb;
    return $wpdb->prepare(implode(',', array_fill(0, count($values), $format)), array_values($values));
}

/**
 * One VALUES tuple: ints as ints, everything else quoted and escaped as $wpdb->prepare's %s does
 * (mysqli_real_escape_string through $wpdb->_real_escape). prepare() parses its format string on
 * every call: for the ~5,000 meta rows of a call of 200 posts that was most of the write's time.
 */
function anp_synth_tuple($values) {
    global $wpdb;
    $out = array();
    foreach ($values as $v) {
        $out[] = is_int($v) ? (string) $v : "'" . $wpdb->_real_escape((string) $v) . "'";
    }
    return '(' . implode(',', $out) . ')';
}

/** The posts holding each source id, lowest id first: source_id => [row, …]. One query. */
function anp_synth_holders($sids) {
    global $wpdb;
    if (!$sids) {
        return array();
    }
    $in = anp_synth_in($sids);
    $rows = $wpdb->get_results(
        "SELECT m.meta_value AS sid, p.ID AS id, p.post_status AS status, p.post_name AS slug,
                h.meta_value AS hash, a.meta_value AS post
         FROM {$wpdb->postmeta} m
         JOIN {$wpdb->posts} p ON p.ID = m.post_id AND p.post_type = 'post'
         LEFT JOIN {$wpdb->postmeta} h ON h.post_id = m.post_id AND h.meta_key = 'anp_hash'
         LEFT JOIN {$wpdb->postmeta} a ON a.post_id = m.post_id AND a.meta_key = 'anp_post'
         WHERE m.meta_key = 'source_id' AND m.meta_value IN ($in)
         ORDER BY p.ID", ARRAY_A);
    $out = array();
    foreach ($rows as $row) {
        $out[$row['sid']][] = $row;
    }
    return $out;
}

/**
 * Term ids by name for one taxonomy, created when missing (one query for the existing ones,
 * cached for the request). Returns name => term id, or name => WP_Error.
 */
function anp_synth_terms($taxonomy, $names) {
    static $cache = array();
    global $wpdb;
    $out = array();
    $missing = array();
    foreach ($names as $name) {
        $k = $taxonomy . "\0" . strtolower($name);
        if (isset($cache[$k])) {
            $out[$name] = $cache[$k];
        } else {
            $missing[$name] = true;
        }
    }
    if ($missing) {
        $in = anp_synth_in(array_keys($missing));
        $rows = $wpdb->get_results($wpdb->prepare(
            "SELECT t.term_id, t.name, tt.term_taxonomy_id FROM {$wpdb->terms} t
             JOIN {$wpdb->term_taxonomy} tt ON tt.term_id = t.term_id AND tt.taxonomy = %s
             WHERE t.name IN ($in) ORDER BY t.term_id", $taxonomy), ARRAY_A);
        foreach ($rows as $row) {
            // The collation compares names case-insensitively, as term_exists does.
            foreach (array_keys($missing) as $name) {
                if (strtolower($name) === strtolower($row['name']) && !isset($out[$name])) {
                    $out[$name] = array((int) $row['term_id'], (int) $row['term_taxonomy_id']);
                    $cache[$taxonomy . "\0" . strtolower($name)] = $out[$name];
                    unset($missing[$name]);
                }
            }
        }
        foreach (array_keys($missing) as $name) {
            if (!current_user_can(get_taxonomy($taxonomy)->cap->manage_terms)) {
                $out[$name] = new WP_Error('rest_cannot_create_term',
                    "Creating the $taxonomy term '$name' needs manage_categories.", array('status' => 403));
                continue;
            }
            $made = wp_insert_term($name, $taxonomy);
            if (is_wp_error($made) && $made->get_error_code() === 'term_exists') {
                $tid = (int) $made->get_error_data();
                $made = array('term_id' => $tid,
                    'term_taxonomy_id' => (int) get_term($tid, $taxonomy)->term_taxonomy_id);
            }
            if (is_wp_error($made)) {
                $out[$name] = $made;
                continue;
            }
            $out[$name] = array((int) $made['term_id'], (int) $made['term_taxonomy_id']);
            $cache[$taxonomy . "\0" . strtolower($name)] = $out[$name];
            $GLOBALS['anp_synth_new_terms'][$taxonomy][] = (int) $made['term_id'];
        }
    }
    return $out;
}

/** The stored answer of an earlier call with this Idempotency-Key, or null. */
function anp_synth_replay($key) {
    global $wpdb;
    $table = anp_synth_replay_table();
    $raw = $wpdb->get_var($wpdb->prepare("SELECT answer FROM $table WHERE ikey = %s", $key));
    $answer = $raw ? json_decode($raw, true) : null;
    return is_array($answer) && isset($answer['fingerprint'], $answer['results']) ? $answer : null;
}

/** True while every post a stored answer wrote still holds what the answer says. */
function anp_synth_still_true($results, $holders) {
    foreach ($results as $r) {
        if (!is_array($r) || !isset($r['outcome'])) {
            continue;
        }
        $held = isset($holders[$r['source_id']]) ? $holders[$r['source_id']][0] : null;
        if (!$held || (int) $held['id'] !== (int) $r['id'] || $held['hash'] !== $r['hash']
            || $held['status'] === 'trash') {
            return false;
        }
    }
    return true;
}

/** Store the answers of this call (inside its transaction): one upsert by key, no gap locks
 * taken first (a DELETE of absent keys followed by an INSERT deadlocks two concurrent calls). */
function anp_synth_remember($answers) {
    global $wpdb;
    if (!$answers) {
        return;
    }
    $table = anp_synth_replay_table();
    $now = time();
    $rows = array();
    foreach ($answers as $key => $answer) {
        $rows[] = $wpdb->prepare('(%s, %d, %s)', $key, $now, wp_json_encode($answer));
    }
    $wpdb->query("INSERT INTO $table (ikey, created, answer) VALUES " . implode(',', $rows)
        . ' ON DUPLICATE KEY UPDATE created = VALUES(created), answer = VALUES(answer)');
}

/** Keep the replay table bounded, by age and by count; after the call's COMMIT, outside any
 * transaction (range deletes inside one lock the rows concurrent calls insert). Each check is
 * one index read; a delete that loses a lock race is skipped (the next call prunes). */
function anp_synth_prune_replay() {
    global $wpdb;
    $table = anp_synth_replay_table();
    $old = $wpdb->suppress_errors(true);
    $oldest = $wpdb->get_var("SELECT MIN(created) FROM $table");
    $cutoff = time() - ANP_SYNTH_REPLAY_MAX_AGE;
    if ($oldest !== null && (int) $oldest < $cutoff) {
        $wpdb->query($wpdb->prepare("DELETE FROM $table WHERE created < %d LIMIT 1000", $cutoff));
    }
    // seq is the primary key: MAX and MIN are one index read each.
    $max = (int) $wpdb->get_var("SELECT MAX(seq) FROM $table");
    if ($max - (int) $wpdb->get_var("SELECT MIN(seq) FROM $table") >= ANP_SYNTH_REPLAY_MAX_ROWS) {
        $wpdb->query($wpdb->prepare("DELETE FROM $table WHERE seq <= %d LIMIT 5000", $max - ANP_SYNTH_REPLAY_MAX_ROWS));
    }
    $wpdb->suppress_errors($old);
}

/** The meta rows of the written posts, in one DELETE and one multi-row INSERT. */
function anp_synth_write_meta($meta_by_post, $updated_ids) {
    global $wpdb;
    if ($updated_ids) {
        $keys = array_merge(array_keys(anp_synth_meta_fields()), array('_wp_trash_meta_status', '_wp_trash_meta_time'));
        $wpdb->query("DELETE FROM {$wpdb->postmeta} WHERE post_id IN (" . anp_synth_in($updated_ids, '%d')
            . ') AND meta_key IN (' . anp_synth_in($keys) . ')');
    }
    $rows = array();
    foreach ($meta_by_post as $post_id => $meta) {
        foreach ($meta as $key => $value) {
            $rows[] = anp_synth_tuple(array((int) $post_id, (string) $key, (string) $value));
        }
    }
    foreach (array_chunk($rows, 2000) as $chunk) {
        if ($wpdb->query("INSERT INTO {$wpdb->postmeta} (post_id, meta_key, meta_value) VALUES " . implode(',', $chunk)) === false) {
            return new WP_Error('anp_db', 'writing post meta failed: ' . $wpdb->last_error, array('status' => 500));
        }
    }
    return true;
}

function anp_synth_bulk(WP_REST_Request $request) {
    global $wpdb;
    $body = $request->get_body();
    // PHP drops a body over post_max_size before WordPress sees it: that is a too-large body too.
    $sent = isset($_SERVER['CONTENT_LENGTH']) ? (int) $_SERVER['CONTENT_LENGTH'] : 0;
    if (strlen($body) > ANP_SYNTH_BULK_MAX_BYTES || ($body === '' && $sent > 0)) {
        return new WP_Error('anp_too_large', 'The body is larger than ' . ANP_SYNTH_BULK_MAX_BYTES . ' bytes.',
            array('status' => 413));
    }
    $data = json_decode($body, true);
    if (!is_array($data) || !isset($data['posts']) || !is_array($data['posts'])) {
        return new WP_Error('anp_bad_body', 'Expected {"mode": …, "posts": [...]}.', array('status' => 400));
    }
    $mode = isset($data['mode']) ? $data['mode'] : 'hooks';
    if ($mode !== 'hooks' && $mode !== 'direct') {
        return new WP_Error('anp_bad_mode', 'mode: expected hooks or direct.', array('status' => 400));
    }
    $items = array_values($data['posts']);
    $key = (string) $request->get_header('idempotency-key');
    if (strlen($key) > 191) {
        return new WP_Error('anp_bad_key', 'Idempotency-Key: at most 191 bytes.', array('status' => 400));
    }
    if (count($items) > ANP_SYNTH_BULK_MAX) {
        return new WP_Error('anp_too_many', 'At most ' . ANP_SYNTH_BULK_MAX . ' posts per call.',
            array('status' => 413));
    }
    if ($mode === 'direct') {
        $why = anp_synth_direct_refusal();
        if ($why !== null) {
            return new WP_Error('anp_direct_refused', $why, array('status' => 501));
        }
    }
    $schema = anp_synth_ensure_schema();
    if (is_wp_error($schema)) {
        return $schema;
    }

    $results = array_fill(0, count($items), null);
    $valid = array();  // index => item
    $seen = array();
    foreach ($items as $index => $item) {
        $why = anp_synth_check_item($item);
        $sid = is_array($item) && isset($item['source_id']) && is_string($item['source_id']) ? $item['source_id'] : null;
        if ($why === null && isset($seen[$sid])) {
            $why = 'source_id: twice in one call';
        }
        if ($why !== null) {
            $results[$index] = anp_synth_refusal($index, $sid, 422, 'anp_invalid', $why);
            continue;
        }
        $seen[$sid] = true;
        $valid[$index] = $item;
    }
    if (!$valid) {
        return array('mode' => $mode, 'results' => $results);
    }

    // One writer per source id: named locks, taken in one statement in sorted order.
    $sids = array_keys($seen);
    sort($sids);
    $locks = array();
    foreach ($sids as $sid) {
        $locks[] = $wpdb->prepare('GET_LOCK(%s, 10)', 'anp-synth:' . md5($sid));
    }
    $got = $wpdb->get_row('SELECT ' . implode(',', $locks), ARRAY_N);
    if (!$got || in_array(null, $got, true) || in_array('0', $got, true)) {
        $wpdb->query('SELECT RELEASE_ALL_LOCKS()');
        return new WP_Error('anp_source_id_busy', 'Another request is writing these source ids.',
            array('status' => 503));
    }
    try {
        // The fingerprint is what is written, not how: a resumed import may change --wp-mode.
        $done = anp_synth_bulk_locked($mode, $valid, $results, $key, md5(wp_json_encode($items)));
        return is_wp_error($done) ? $done : array('mode' => $mode, 'results' => $done);
    } finally {
        $wpdb->query('SELECT RELEASE_ALL_LOCKS()');
    }
}

function anp_synth_bulk_locked($mode, $valid, $results, $key, $fingerprint) {
    global $wpdb;
    $holders = anp_synth_holders(array_map(function ($i) { return $i['source_id']; }, $valid));
    // A replayed call gets its first answer while that answer still describes the site (a post
    // deleted or changed since is written anew, as a new call would).
    if ($key !== '') {
        $first = anp_synth_replay($key);
        if ($first && $first['fingerprint'] !== $fingerprint) {
            return new WP_Error('anp_key_reused', 'Idempotency-Key was already used with a different request.',
                array('status' => 422));
        }
        if ($first && anp_synth_still_true($first['results'], $holders)) {
            foreach ($first['results'] as $i => $r) {
                $first['results'][$i]['replayed'] = true;
            }
            return $first['results'];
        }
    }

    // Unchanged posts, and the terms the rest need (one pass).
    $todo = array();
    $unchanged = array();
    $names = array('post_tag' => array(), 'category' => array());
    foreach ($valid as $index => $item) {
        $sid = $item['source_id'];
        $held = isset($holders[$sid]) ? $holders[$sid][0] : null;
        if ($held && $held['hash'] === $item['hash'] && $held['status'] !== 'trash') {
            $results[$index] = array('index' => $index, 'source_id' => $sid, 'status' => 200,
                'outcome' => 'unchanged', 'id' => (int) $held['id'], 'link' => '',
                'hash' => $item['hash'], 'previous' => null, 'replayed' => false);
            $unchanged[$index] = (int) $held['id'];
            continue;
        }
        $todo[$index] = $held;
        foreach ($item['tags'] as $n) { $names['post_tag'][trim($n)] = true; }
        foreach ($item['categories'] as $n) { $names['category'][trim($n)] = true; }
    }
    if ($unchanged) {  // their links, from one query
        _prime_post_caches(array_values($unchanged), false, false);
        foreach ($unchanged as $index => $id) {
            $results[$index]['link'] = get_permalink($id);
        }
    }
    if (!$todo) {
        return $results;
    }

    wp_defer_term_counting(true);
    wp_defer_comment_counting(true);
    wp_suspend_cache_invalidation(true);
    add_filter('wp_revisions_to_keep', '__return_zero', 999);
    remove_action('post_updated', 'wp_save_post_revision', 10);
    $GLOBALS['anp_synth_new_terms'] = array();
    $GLOBALS['anp_synth_delta'] = array();  // term_taxonomy_id => change of its count
    // autocommit off: after a deadlock InnoDB rolls the transaction back by itself, and the
    // statements after it must not commit one by one. The marker row tells at the end whether
    // the transaction that COMMIT ends is still the one that began here.
    $wpdb->query('SET autocommit = 0');
    $wpdb->query('START TRANSACTION');
    $marker = 'tx:' . wp_generate_uuid4();
    $table = anp_synth_replay_table();
    $wpdb->query($wpdb->prepare("INSERT INTO $table (ikey, created, answer) VALUES (%s, %d, '{}')", $marker, time()));
    $committed = false;
    $touched = array();
    try {
        $terms = array(
            'post_tag' => anp_synth_terms('post_tag', array_keys($names['post_tag'])),
            'category' => anp_synth_terms('category', array_keys($names['category'])),
        );
        $plan = array();  // index => [item, held, tag ids, category ids]
        foreach ($todo as $index => $held) {
            $item = $valid[$index];
            $ids = array('post_tag' => array(), 'category' => array());
            $refused = null;
            foreach (array('post_tag' => 'tags', 'category' => 'categories') as $tax => $field) {
                foreach ($item[$field] as $n) {
                    $t = $terms[$tax][trim($n)];
                    if (is_wp_error($t)) {
                        $refused = $t;
                        break 2;
                    }
                    $ids[$tax][$t[0]] = $t[1];
                }
            }
            if ($refused) {
                $data = $refused->get_error_data();
                $results[$index] = anp_synth_refusal($index, $item['source_id'],
                    is_array($data) && isset($data['status']) ? $data['status'] : 400,
                    $refused->get_error_code(), $refused->get_error_message());
                continue;
            }
            $plan[$index] = array($item, $held, $ids);
        }
        $written = $mode === 'direct' ? anp_synth_write_direct($plan) : anp_synth_write_hooks($plan);
        if (is_wp_error($written)) {
            throw new Exception($written->get_error_message());
        }
        $answers = array();
        foreach ($written as $index => $answer) {
            if (isset($answer['outcome'])) {
                $touched[] = $answer['id'];
            }
            $results[$index] = $answer;
        }
        wp_suspend_cache_invalidation(false);
        foreach ($touched as $id) {
            clean_post_cache($id);
        }
        foreach ($GLOBALS['anp_synth_new_terms'] as $tax => $ids) {
            clean_term_cache($ids, $tax);
        }
        // Links after the caches are clean (one query primes every touched post).
        if ($touched) {
            _prime_post_caches($touched, false, false);
        }
        foreach ($results as $index => $answer) {
            if (is_array($answer) && isset($answer['outcome']) && $answer['outcome'] !== 'unchanged') {
                $results[$index]['link'] = get_permalink($answer['id']);
            }
        }
        if ($key !== '') {
            $answers[$key] = array('fingerprint' => $fingerprint, 'results' => $results);
        }
        anp_synth_remember($answers);
        // Term counts, once per call and in the same transaction: count += the call's change
        // (created posts +1 per term; an updated post leaves its old terms, if it was published,
        // and joins its new ones). Constant cost as the site grows, exact after a kill; one
        // statement, rows locked in index order, so two calls never deadlock on them.
        $delta = array_filter($GLOBALS['anp_synth_delta']);
        if ($delta) {
            ksort($delta);
            $case = '';
            foreach ($delta as $tt => $d) {
                $case .= $wpdb->prepare(' WHEN %d THEN %d', $tt, $d);
            }
            $ok = $wpdb->query("UPDATE {$wpdb->term_taxonomy} SET count = GREATEST(0, CAST(count AS SIGNED) + CASE term_taxonomy_id$case END)"
                . ' WHERE term_taxonomy_id IN (' . anp_synth_in(array_keys($delta), '%d') . ')');
            if ($ok === false) {
                throw new Exception('updating term counts failed: ' . $wpdb->last_error);
            }
        }
        if (!$wpdb->get_var($wpdb->prepare("SELECT 1 FROM $table WHERE ikey = %s", $marker))) {
            throw new Exception('the database rolled the transaction back (' . ($wpdb->last_error ?: 'deadlock') . ')');
        }
        $wpdb->query($wpdb->prepare("DELETE FROM $table WHERE ikey = %s", $marker));
        if ($wpdb->query('COMMIT') === false) {
            throw new Exception('COMMIT failed: ' . $wpdb->last_error);
        }
        $committed = true;
    } catch (Exception $e) {
        $wpdb->query('ROLLBACK');
        wp_suspend_cache_invalidation(false);
        foreach ($todo as $index => $held) {
            if ($held) {
                clean_post_cache((int) $held['id']);
            }
        }
        foreach ($todo as $index => $held) {
            $results[$index] = anp_synth_refusal($index, $valid[$index]['source_id'], 500, 'anp_db',
                'nothing written: ' . $e->getMessage());
        }
    } finally {
        $wpdb->query('SET autocommit = 1');
        remove_filter('wp_revisions_to_keep', '__return_zero', 999);
        add_action('post_updated', 'wp_save_post_revision', 10, 1);
        wp_suspend_cache_invalidation(false);
        wp_defer_term_counting(false);
        wp_defer_comment_counting(false);
    }
    if ($committed) {
        anp_synth_prune_replay();
        if ($GLOBALS['anp_synth_delta']) {
            clean_term_cache(array_keys($GLOBALS['anp_synth_delta']), '', false);
        }
        // Core's per-post caches of "is there a published post / more than one author", kept
        // off during the loop (see anp_synth_write_hooks), refreshed once.
        if ($mode === 'hooks') {
            if (function_exists('block_core_calendar_update_has_published_posts')) {
                block_core_calendar_update_has_published_posts();
            }
            __clear_multi_author_cache();
        }
        foreach ($touched as $id) {
            clean_post_cache($id);  // again after the commit: no reader re-caches the old post
        }
    }
    return $results;
}

/**
 * Term relationships of the written posts: post id => taxonomy => [term id => tt id]. The
 * updated posts' old relationships in those taxonomies go first; old and new terms are queued
 * for the one recount at the end of the call. One DELETE, one multi-row INSERT; each post's
 * `set_object_terms` action fires as wp_set_object_terms fires it.
 */
function anp_synth_write_terms($rels, $old_status, $hooks) {
    $updated_ids = array_keys($old_status);
    global $wpdb;
    $taxes = array();
    foreach ($rels as $by_tax) {
        $taxes += array_fill_keys(array_keys($by_tax), true);
    }
    $taxes = array_keys($taxes);
    $old = array();
    if ($updated_ids && $taxes) {
        $rows = $wpdb->get_results("SELECT tr.object_id AS id, tr.term_taxonomy_id AS tt, tt.taxonomy AS tax
            FROM {$wpdb->term_relationships} tr
            JOIN {$wpdb->term_taxonomy} tt ON tt.term_taxonomy_id = tr.term_taxonomy_id
            WHERE tt.taxonomy IN (" . anp_synth_in($taxes) . ') AND tr.object_id IN (' . anp_synth_in($updated_ids, '%d') . ')', ARRAY_A);
        foreach ($rows as $row) {
            $old[(int) $row['id']][$row['tax']][] = (int) $row['tt'];
            // A term counts published posts: an updated post that was published leaves it.
            if ($old_status[(int) $row['id']] === 'publish') {
                $GLOBALS['anp_synth_delta'][(int) $row['tt']] = ($GLOBALS['anp_synth_delta'][(int) $row['tt']] ?? 0) - 1;
            }
        }
        if ($rows) {
            $wpdb->query("DELETE tr FROM {$wpdb->term_relationships} tr
                JOIN {$wpdb->term_taxonomy} tt ON tt.term_taxonomy_id = tr.term_taxonomy_id
                WHERE tt.taxonomy IN (" . anp_synth_in($taxes) . ') AND tr.object_id IN (' . anp_synth_in($updated_ids, '%d') . ')');
        }
    }
    $values = array();
    foreach ($rels as $id => $by_tax) {
        foreach ($by_tax as $tax => $pairs) {
            foreach ($pairs as $tt) {
                $values[] = anp_synth_tuple(array((int) $id, (int) $tt, 0));
                $GLOBALS['anp_synth_delta'][(int) $tt] = ($GLOBALS['anp_synth_delta'][(int) $tt] ?? 0) + 1;
            }
        }
    }
    foreach (array_chunk(array_values(array_unique($values)), 2000) as $chunk) {
        if ($wpdb->query("INSERT IGNORE INTO {$wpdb->term_relationships} (object_id, term_taxonomy_id, term_order) VALUES "
            . implode(',', $chunk)) === false) {
            return new WP_Error('anp_db', 'writing term relationships failed: ' . $wpdb->last_error);
        }
    }
    foreach ($hooks ? $rels : array() as $id => $by_tax) {
        foreach ($by_tax as $tax => $pairs) {
            $old_tt = isset($old[$id][$tax]) ? $old[$id][$tax] : array();
            do_action('set_object_terms', $id, array_keys($pairs), array_values($pairs), $tax, false, $old_tt);
        }
    }
    clean_object_term_cache(array_keys($rels), 'post');
    return true;
}

/** Core files a post without categories under the default one: [term id => tt id]. */
function anp_synth_default_category() {
    $term = get_term((int) get_option('default_category'), 'category');
    return $term && !is_wp_error($term) ? array((int) $term->term_id => (int) $term->term_taxonomy_id) : array();
}

/** The written answer of one post (link filled in once caches are clean). */
function anp_synth_written($index, $item, $held, $id) {
    return array('index' => $index, 'source_id' => $item['source_id'],
        'status' => $held ? 200 : 201, 'outcome' => $held ? 'updated' : 'created', 'id' => (int) $id,
        'link' => '', 'hash' => $item['hash'], 'previous' => $held ? $held['post'] : null,
        'replayed' => false);
}

/** hooks mode: wp_insert_post / wp_update_post for each post, the meta in one statement. */
function anp_synth_write_hooks($plan) {
    $out = array();
    $meta = array();
    $tags = array();
    $updated = array();
    $old_status = array();  // updated post id => its status before the call
    // Core's own per-post bookkeeping that the end of the call does once instead: term counts
    // (recounted for this call's terms), the calendar block's and the multi-author caches.
    $core_hooks = array(
        array('transition_post_status', '_update_term_count_on_transition_post_status', 10, 3),
        array('transition_post_status', 'block_core_calendar_update_has_published_post_on_transition_post_status', 10, 3),
        array('transition_post_status', '__clear_multi_author_cache', 10, 1),
    );
    $core_hooks = array_filter($core_hooks, function ($hook) {
        return has_action($hook[0], $hook[1]) === $hook[2];
    });
    foreach ($core_hooks as $hook) {
        remove_action($hook[0], $hook[1], $hook[2]);
    }
    // wp_insert_post files a post without categories under the default one, one term at a
    // time; for the loop the default is '' (wp_set_post_categories then writes nothing) and the
    // post's own categories, or the real default, follow in anp_synth_write_terms.
    $default = anp_synth_default_category();
    $no_default = function () { return ''; };
    add_filter('pre_option_default_category', $no_default);
    foreach ($plan as $index => $p) {
        list($item, $held, $ids) = $p;
        $arr = array(
            'post_type'      => 'post',
            'post_status'    => 'publish',
            'post_author'    => get_current_user_id(),
            'post_title'     => $item['title'],
            'post_name'      => $item['slug'],
            'post_content'   => $item['content'],
            'post_excerpt'   => $item['excerpt'],
            'post_date_gmt'  => str_replace('T', ' ', $item['date_gmt']),
            'post_date'      => get_date_from_gmt(str_replace('T', ' ', $item['date_gmt'])),
            'edit_date'      => true,
            'comment_status' => 'closed',
            'ping_status'    => 'closed',
            // Categories and tags are written for the whole call in one statement
            // (anp_synth_write_terms); see $no_default below.
            'post_category'  => array(),
        );
        if ($held) {
            $arr['ID'] = (int) $held['id'];
        }
        // wp_insert_post expects slashed data, as REST passes it.
        $id = $held ? wp_update_post(wp_slash($arr), true) : wp_insert_post(wp_slash($arr), true);
        if (is_wp_error($id)) {
            $out[$index] = anp_synth_refusal($index, $item['source_id'], 400, $id->get_error_code(),
                $id->get_error_message());
            continue;
        }
        $meta[$id] = $item['meta'];
        $tags[$id] = array('category' => $ids['category'] ? $ids['category'] : $default,
            'post_tag' => $ids['post_tag']);
        if ($held) {
            $updated[] = (int) $id;
            $old_status[(int) $id] = $held['status'];
        }
        $out[$index] = anp_synth_written($index, $item, $held, $id);
    }
    remove_filter('pre_option_default_category', $no_default);
    foreach ($core_hooks as $hook) {
        add_action($hook[0], $hook[1], $hook[2], $hook[3]);
    }
    $ok = anp_synth_write_terms($tags, $old_status, true);
    if (is_wp_error($ok)) {
        return $ok;
    }
    $ok = anp_synth_write_meta($meta, $updated);
    return is_wp_error($ok) ? $ok : $out;
}

/** direct mode: multi-row statements into posts, postmeta and term_relationships. */
function anp_synth_write_direct($plan) {
    global $wpdb;
    $out = array();
    $now = current_time('mysql');
    $now_gmt = current_time('mysql', 1);
    $author = get_current_user_id();
    $filter = !current_user_can('unfiltered_html');  // core runs kses for such users
    // Slugs: one query finds the ones another post holds; only those go through core's uniquifier.
    $slugs = array();
    foreach ($plan as $p) {
        $slugs[] = sanitize_title($p[0]['slug']);
    }
    $taken = array();
    foreach ($wpdb->get_results("SELECT ID, post_name FROM {$wpdb->posts} WHERE post_type = 'post' AND post_name IN ("
        . anp_synth_in($slugs) . ')', ARRAY_A) as $row) {
        $taken[$row['post_name']][] = (int) $row['ID'];
    }
    $rows = array();
    $creates = array();
    $updates = array();
    $old_status = array();
    foreach ($plan as $index => $p) {
        list($item, $held, $ids) = $p;
        $own = $held ? (int) $held['id'] : 0;
        $slug = sanitize_title($item['slug']);
        if (isset($taken[$slug]) && array_diff($taken[$slug], array($own))) {
            $slug = wp_unique_post_slug($slug, $own, 'publish', 'post', 0);
        }
        $gmt = str_replace('T', ' ', $item['date_gmt']);
        $content = $item['content'];
        $title = $item['title'];
        $excerpt = $item['excerpt'];
        if ($filter) {
            $content = wp_kses_post($content);
            $title = wp_kses($title, 'title_save_pre');
            $excerpt = wp_kses($excerpt, 'excerpt_save_pre');
        }
        $row = array((int) $author, get_date_from_gmt($gmt), $gmt, $content, $title, $excerpt, 'publish',
            'closed', 'closed', '', $slug, '', '', $now, $now_gmt, '', 0, '', 0, 'post', '', 0);
        if ($held) {
            $updates[$index] = $own;
            $old_status[$own] = $held['status'];
            $rows['u'][] = anp_synth_tuple(array_merge(array($own), $row));
        } else {
            $creates[] = $index;
            $rows['c'][] = anp_synth_tuple($row);
        }
    }
    $cols = 'post_author,post_date,post_date_gmt,post_content,post_title,post_excerpt,post_status,'
        . 'comment_status,ping_status,post_password,post_name,to_ping,pinged,post_modified,'
        . 'post_modified_gmt,post_content_filtered,post_parent,guid,menu_order,post_type,post_mime_type,comment_count';
    $ids_by_index = $updates;
    if (!empty($rows['c'])) {
        if ($wpdb->query("INSERT INTO {$wpdb->posts} ($cols) VALUES " . implode(',', $rows['c'])) === false) {
            return new WP_Error('anp_db', 'inserting posts failed: ' . $wpdb->last_error);
        }
        // One multi-row INSERT gets consecutive ids (innodb_autoinc_lock_mode <= 1, checked).
        $first = (int) $wpdb->get_var('SELECT LAST_INSERT_ID()');
        $n = count($creates);
        $check = $wpdb->get_col($wpdb->prepare("SELECT ID FROM {$wpdb->posts} WHERE ID BETWEEN %d AND %d AND post_author = %d ORDER BY ID",
            $first, $first + $n - 1, $author));
        if (count($check) !== $n) {
            return new WP_Error('anp_db', 'the inserted posts did not get consecutive ids');
        }
        foreach ($creates as $k => $index) {
            $ids_by_index[$index] = $first + $k;
        }
        $wpdb->query($wpdb->prepare("UPDATE {$wpdb->posts} SET guid = CONCAT(%s, ID) WHERE ID BETWEEN %d AND %d",
            home_url('/?p='), $first, $first + $n - 1));
    }
    if (!empty($rows['u'])) {
        $set = array();
        foreach (explode(',', $cols) as $c) {
            if ($c !== 'guid' && $c !== 'comment_count' && $c !== 'post_author') {
                $set[] = "$c = VALUES($c)";
            }
        }
        if ($wpdb->query("INSERT INTO {$wpdb->posts} (ID,$cols) VALUES " . implode(',', $rows['u'])
            . ' ON DUPLICATE KEY UPDATE ' . implode(',', $set)) === false) {
            return new WP_Error('anp_db', 'updating posts failed: ' . $wpdb->last_error);
        }
    }
    $rels = array();
    $meta = array();
    foreach ($plan as $index => $p) {
        list($item, $held, $ids) = $p;
        $id = $ids_by_index[$index];
        $cats = $ids['category'] ? $ids['category'] : anp_synth_default_category();
        $rels[$id] = array('category' => $cats, 'post_tag' => $ids['post_tag']);
        $meta[$id] = $item['meta'];
        $out[$index] = anp_synth_written($index, $item, $held, $id);
    }
    $ok = anp_synth_write_terms($rels, $old_status, false);
    if (is_wp_error($ok)) {
        return $ok;
    }
    $ok = anp_synth_write_meta($meta, array_values($updates));
    return is_wp_error($ok) ? $ok : $out;
}
