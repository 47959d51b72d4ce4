#!/usr/bin/env bash
# nginx in front of php-fpm, in the foreground, as a site runs it (for the tests and bench/run):
#   nginx.sh <dir> <port> <php-fpm port>
# Serves <dir>/www on 127.0.0.1:<port> and passes every *.php to php-fpm over FastCGI. Started as
# root, its workers run as nobody. Its configuration, pid, error log and temporary files stay in <dir>.
# SIGTERM (or SIGQUIT) stops it with its workers.
set -euo pipefail
dir="$1" port="$2" fpm_port="$3"
mkdir -p "$dir/nginx-temp"
user=""
[ "$(id -u)" = 0 ] && user="user nobody nogroup;"
cat > "$dir/nginx.conf" <<CONF
$user
worker_processes 2;
pid $dir/nginx.pid;
error_log $dir/nginx-error.log;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $dir/nginx-temp/body;
    fastcgi_temp_path $dir/nginx-temp/fastcgi;
    proxy_temp_path $dir/nginx-temp/proxy;
    uwsgi_temp_path $dir/nginx-temp/uwsgi;
    scgi_temp_path $dir/nginx-temp/scgi;
    server {
        listen 127.0.0.1:$port;
        root $dir/www;
        location ~ \.php\$ {
            include /etc/nginx/fastcgi_params;
            fastcgi_param SCRIPT_FILENAME \$document_root\$fastcgi_script_name;
            fastcgi_pass 127.0.0.1:$fpm_port;
        }
    }
}
CONF
exec /usr/sbin/nginx -e "$dir/nginx-error.log" -p "$dir" -c "$dir/nginx.conf" -g 'daemon off;'
