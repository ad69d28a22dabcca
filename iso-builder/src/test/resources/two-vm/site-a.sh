# Site A's side of the two-VM test (given to appliance A as its boot script through fw_cfg): once the appliance has
# routed site B into its TUN device (before, the default route would take the ping to qemu's user network, which
# answers it) and a ping to site B answers (the test configures the tunnel through both APIs meanwhile), ping five
# times, fetch B's payload and say its size, time and SHA-256, fetch it again around the tunnel (the baseline),
# then open sixteen connections more so the
# receiver's lanes share them. busybox nc, not wget: the image's busybox wget crashed in the VM (SIGSEGV; it runs in a
# chroot of the same files on the host).
tries=0
until ip route show 10.2.0.0/24 2>/dev/null | grep -q 'dev fs0'; do
  tries=$((tries + 1))
  [ $tries -gt 900 ] && { echo "site B was never routed into fs0"; exit 1; }
  sleep 1
done
tries=0
until ping -c 1 -W 2 10.2.0.1 > /run/ping.out 2>&1; do
  tries=$((tries + 1))
  [ $tries -gt 600 ] && { echo "site B never answered"; exit 1; }
  if [ $((tries % 20)) = 0 ]; then   # what a reader of the console needs when the tunnel does not come up
    echo "no answer yet after $tries tries: $(tail -1 /run/ping.out)"
    ip route get 10.2.0.1
    grep fs0 /proc/net/dev
  fi
  sleep 1
done
echo "ping through the tunnel answered"
ping -c 5 -W 5 10.2.0.1 | grep 'packets transmitted'
# a connection reads until the server closes it: its input is a FIFO opened for reading and writing, which never
# ends (input that ended would end nc before the payload came)
mkfifo /run/hold
for try in 1 2 3 4 5; do
  start=$(cut -d' ' -f1 /proc/uptime)
  timeout 300 nc 10.2.0.1 8080 <> /run/hold > /run/got
  [ "$(wc -c < /run/got)" = 4194304 ] && break
  echo "transfer failed (try $try): $(wc -c < /run/got) bytes"
  sleep 2
done
end=$(cut -d' ' -f1 /proc/uptime)
echo "transfer $(wc -c < /run/got) bytes in $(awk "BEGIN { print $end - $start }") s sha256 $(sha256sum /run/got | cut -d' ' -f1)"
# the baseline: the same payload over the same link to B's link address, around the tunnel (B's nc listens on all)
start=$(cut -d' ' -f1 /proc/uptime)
timeout 300 nc 192.168.77.2 8080 <> /run/hold > /run/plain
end=$(cut -d' ' -f1 /proc/uptime)
echo "plain transfer $(wc -c < /run/plain) bytes in $(awk "BEGIN { print $end - $start }") s sha256 $(sha256sum /run/plain | cut -d' ' -f1)"
# one after another, each a flow of its own (a new source port): busybox nc -ll left some of sixteen concurrent
# connections without an answer, also over the loopback, while a threaded server answered 48 through the tunnel
for connection in $(seq 16); do
  timeout 60 nc 10.2.0.1 8081 <> /run/hold > /run/small
  [ "$(wc -c < /run/small)" = 65536 ] || echo "connection $connection failed: $(wc -c < /run/small) bytes"
done
echo "sixteen connections done"
