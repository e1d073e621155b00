<?php
// Installs WordPress from the PHP CLI (before the web server starts: installing through
// install.php with php -S deadlocks, WordPress requests its own site), then makes sure the
// application password and the demo reader accounts exist.
// Usage: php install.php STATE_DIR
// Writes STATE_DIR/app-password (user:password) and STATE_DIR/users.json, both mode 0600.

define('WP_INSTALLING', true);
$state = $argv[1];
$_SERVER['HTTP_HOST'] = '127.0.0.1';
// Which /etc/wordpress/config-NAME.php Debian's wp-config.php loads (scripts/wordpress.sh sets it).
if (getenv('WORDPRESS_CONFIG') !== false) {
    $_SERVER['WORDPRESS_CONFIG'] = getenv('WORDPRESS_CONFIG');
}
$_SERVER['SERVER_NAME'] = '127.0.0.1';
$_SERVER['REQUEST_URI'] = '/';
$_SERVER['REQUEST_METHOD'] = 'GET';
require '/usr/share/wordpress/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/upgrade.php';
require_once ABSPATH . 'wp-admin/includes/user.php';

add_filter('pre_wp_mail', '__return_false');  // no MTA here

function anp_write_secret($path, $text) {
    $tmp = $path . '.tmp';
    $old = umask(077);
    file_put_contents($tmp, $text);
    umask($old);
    chmod($tmp, 0600);
    rename($tmp, $path);
}

function anp_random_password() {
    return wp_generate_password(24, false, false);
}

if (!is_blog_installed()) {
    $result = wp_install('anp-synth WordPress', 'admin', 'admin@example.invalid', false, '',
        anp_random_password());
    // The sample post, page and comment would be noise in every count.
    foreach (get_posts(array('post_type' => array('post', 'page'), 'post_status' => 'any',
        'numberposts' => -1)) as $p) {
        wp_delete_post($p->ID, true);
    }
    fwrite(STDERR, "wordpress: installed\n");
}
update_option('permalink_structure', '/%postname%/');
update_option('rewrite_rules', '');

$admin = get_user_by('login', 'admin');
$app_file = $state . '/app-password';
$valid = false;
if (is_readable($app_file)) {
    // Reuse the stored password while WordPress still knows it (a reset forgets it).
    [$user, $password] = explode(':', trim(file_get_contents($app_file)), 2) + array('', '');
    add_filter('application_password_is_api_request', '__return_true');
    $valid = $user === 'admin'
        && wp_authenticate_application_password(null, 'admin', $password) instanceof WP_User;
}
if (!$valid) {
    // Names must be unique per user.
    $created = WP_Application_Passwords::create_new_application_password(
        $admin->ID, array('name' => 'anp-synth ' . gmdate('Ymd\THis') . ' ' . wp_generate_password(6, false))
    );
    if (is_wp_error($created)) {
        fwrite(STDERR, 'wordpress: cannot create an application password: ' . $created->get_error_message() . "\n");
        exit(1);
    }
    anp_write_secret($app_file, 'admin:' . $created[0] . "\n");
}

// Reader accounts for logged-in load scenarios (subscribers: they can read, nothing else).
$users_file = $state . '/users.json';
$users = is_readable($users_file) ? json_decode(file_get_contents($users_file), true) : null;
$ok = is_array($users) && !empty($users['users']);
if ($ok) {
    foreach ($users['users'] as $u) {
        $found = get_user_by('login', $u['username']);
        if (!$found || !wp_check_password($u['password'], $found->user_pass, $found->ID)) {
            $ok = false;
        }
    }
}
if (!$ok) {
    $list = array();
    for ($i = 1; $i <= 3; $i++) {
        $login = 'anp-reader-' . $i;
        $password = anp_random_password();
        $existing = get_user_by('login', $login);
        if ($existing) {
            wp_set_password($password, $existing->ID);
        } else {
            wp_insert_user(array('user_login' => $login, 'user_pass' => $password,
                'user_email' => $login . '@example.invalid', 'display_name' => 'Reader ' . $i,
                'role' => 'subscriber'));
        }
        $list[] = array('username' => $login, 'password' => $password, 'display_name' => 'Reader ' . $i);
    }
    anp_write_secret($users_file, json_encode(array('users' => $list), JSON_PRETTY_PRINT) . "\n");
}
