package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// Upstreams (-upstream).
const (
	upFasthttp = "fasthttp"
	upNginx    = "nginx"
)

// nginxConf serves what the fasthttp upstream serves: the 2-byte body,
// and 1 MiB for paths ending in /big. One worker, no access log,
// keep-alive without a request limit; everything under its own
// directory (pid, temporary paths, error log).
const nginxConf = `daemon off;
%sworker_processes 1;
pid %[2]s/nginx.pid;
error_log %[2]s/error.log warn;
events { worker_connections 4096; }
http {
	access_log off;
	keepalive_requests 100000000;
	keepalive_timeout 300s;
	client_body_temp_path %[2]s/body;
	proxy_temp_path %[2]s/proxy;
	fastcgi_temp_path %[2]s/fastcgi;
	uwsgi_temp_path %[2]s/uwsgi;
	scgi_temp_path %[2]s/scgi;
	server {
		listen %[3]s;
		default_type text/plain;
		location ~ /big$ {
			root %[2]s/www;
			try_files /big =404;
		}
		location / {
			return 200 "%[4]s";
		}
	}
}
`

// startNginx starts Debian's nginx (in $PATH or /usr/sbin) in the
// foreground as the upstream at addr, with a directory of its own under
// dir. Stop ends it by its PID (SIGTERM, nginx's fast shutdown).
func startNginx(dir, addr string) (*Proc, error) {
	bin, err := exec.LookPath("nginx")
	if err != nil {
		if bin, err = exec.LookPath("/usr/sbin/nginx"); err != nil {
			return nil, fmt.Errorf("-upstream nginx: no nginx in $PATH or /usr/sbin (apt-get install nginx-light)")
		}
	}
	home := filepath.Join(dir, "nginx")
	if err := os.MkdirAll(filepath.Join(home, "www"), 0o755); err != nil {
		return nil, err
	}
	big := bytes.Repeat([]byte("0123456789abcdef"), bigSize/16)
	if err := os.WriteFile(filepath.Join(home, "www", "big"), big, 0o644); err != nil {
		return nil, err
	}
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;\n" // the workers would otherwise run as nobody, who cannot read home
	}
	conf := filepath.Join(home, "nginx.conf")
	if err := os.WriteFile(conf, fmt.Appendf(nil, nginxConf, user, home, addr, smallBody), 0o644); err != nil {
		return nil, err
	}
	return startProc(dir, "nginx", nil, bin, "-p", home, "-c", conf, "-e", filepath.Join(home, "error.log"))
}
