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

/** `?source_id=a,b,c`, `?anp_imported=1` and `?anp_after=ID` on /wp/v2/posts. */
add_filter('rest_post_collection_params', function ($params) {
    $params['source_id'] = array(
        'description' => 'Limit to posts with these anp-synth source ids (comma-separated).',
        'type'        => 'array',
        'items'       => array('type' => 'string'),
    );
    $params['anp_imported'] = array(
        'description' => 'Limit to posts that anp-synth imported (those with a source_id).',
        'type'        => 'boolean',
    );
    $params['anp_after'] = array(
        'description' => 'Keyset pagination: only posts whose id is greater than this.',
        'type'        => 'integer',
        'minimum'     => 0,
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
        $args['meta_query'] = array(array('key' => 'source_id', 'compare' => 'EXISTS'));
    }
    if (isset($request['anp_after'])) {
        $args['anp_after'] = (int) $request['anp_after'];
    }
    return $args;
}, 10, 2);

add_filter('posts_where', function ($where, $query) {
    $after = $query->get('anp_after');
    if ($after !== '' && $after !== null) {
        global $wpdb;
        $where .= $wpdb->prepare(" AND {$wpdb->posts}.ID > %d", (int) $after);
    }
    return $where;
}, 10, 2);

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
