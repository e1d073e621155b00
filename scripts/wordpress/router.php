<?php
// Router for `php -S`: real files are served as they are, /wp-content/ comes from Debian's
// content directory, everything else goes to WordPress's index.php (pretty permalinks).
// A site beside the default one (ANP_WP_DB) names its config in WORDPRESS_CONFIG, which
// Debian's wp-config.php reads from $_SERVER: php -S does not put the environment there.
if (getenv('WORDPRESS_CONFIG') !== false) {
    $_SERVER['WORDPRESS_CONFIG'] = getenv('WORDPRESS_CONFIG');
}
$path = rawurldecode(parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH) ?? '/');
if (strpos($path, '..') !== false) {
    http_response_code(400);
    return true;
}
if (strncmp($path, '/wp-content/', 12) === 0) {
    $file = '/var/lib/wordpress' . $path;
    if (is_file($file) && substr($file, -4) !== '.php') {
        $types = array(
            'css' => 'text/css', 'js' => 'application/javascript', 'json' => 'application/json',
            'png' => 'image/png', 'jpg' => 'image/jpeg', 'jpeg' => 'image/jpeg', 'gif' => 'image/gif',
            'svg' => 'image/svg+xml', 'webp' => 'image/webp', 'woff' => 'font/woff',
            'woff2' => 'font/woff2', 'ttf' => 'font/ttf', 'txt' => 'text/plain',
        );
        $ext = strtolower(pathinfo($file, PATHINFO_EXTENSION));
        header('Content-Type: ' . ($types[$ext] ?? 'application/octet-stream'));
        header('Content-Length: ' . filesize($file));
        readfile($file);
        return true;
    }
}
$file = $_SERVER['DOCUMENT_ROOT'] . $path;
if ($path !== '/' && (is_file($file) || is_dir($file))) {
    return false;
}
$_SERVER['SCRIPT_NAME'] = '/index.php';
$_SERVER['SCRIPT_FILENAME'] = $_SERVER['DOCUMENT_ROOT'] . '/index.php';
require $_SERVER['DOCUMENT_ROOT'] . '/index.php';
