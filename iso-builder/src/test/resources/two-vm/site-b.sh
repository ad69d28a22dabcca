# Site B's side of the two-VM test (given to appliance B as its boot script through fw_cfg): once the appliance
# has put the site address on its TUN device, serve a random payload to whoever connects to 10.2.0.1:8080 (and a
# small one on 8081), the connection closed after it, and say the payload's SHA-256. busybox nc, not wget and httpd:
# the image's busybox wget crashed in the VM (SIGSEGV; it runs in a chroot of the same files on the host).
tries=0
until ip -4 addr show dev fs0 2>/dev/null | grep -q 'inet 10\.2\.0\.1/'; do
  tries=$((tries + 1))
  [ $tries -gt 900 ] && { echo "fs0 never got 10.2.0.1"; exit 1; }
  sleep 1
done
mkdir -p /run/www
head -c 4194304 /dev/urandom > /run/www/payload
head -c 65536 /dev/urandom > /run/www/small
echo "payload sha256 $(sha256sum /run/www/payload | cut -d' ' -f1)"
nc -ll -p 8080 -e /bin/cat /run/www/payload > /dev/null 2>&1 &
nc -ll -p 8081 -e /bin/cat /run/www/small > /dev/null 2>&1 &
echo "serving on 10.2.0.1:8080 and 8081"
