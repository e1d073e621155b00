<?php
/**
 * Plugin Name: anp-synth import key
 * Description: Registers the post meta that anp-synth writes (source_id, content hash and the
 *              post-meta box) and lets the REST API find posts by source_id, so imports are
 *              upserts keyed by source_id rather than by title or slug.
 * Version: 1
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

const ANP_SYNTH_PLUGIN_VERSION = 1;

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
            );
        },
    ));
});
