# Site A's side of the two-VM test (given to appliance A as its boot script through fw_cfg): once a ping to site B
# answers (the test configures the tunnel through both APIs meanwhile), ping five times, fetch B's payload and say
# its size, time and SHA-256, then open sixteen connections at once so the receiver's lanes share them.
tries=0
until ping -c 1 -W 2 10.2.0.1 > /dev/null 2>&1; do
  tries=$((tries + 1))
  [ $tries -gt 600 ] && { echo "site B never answered"; exit 1; }
  sleep 1
done
echo "ping through the tunnel answered"
ping -c 5 -W 5 10.2.0.1 | grep 'packets transmitted'
for try in 1 2 3 4 5; do
  start=$(cut -d' ' -f1 /proc/uptime)
  wget -q -O /run/got http://10.2.0.1:8080/payload && break
  echo "transfer failed (try $try)"
  sleep 2
done
end=$(cut -d' ' -f1 /proc/uptime)
echo "transfer $(wc -c < /run/got) bytes in $(awk "BEGIN { print $end - $start }") s sha256 $(sha256sum /run/got | cut -d' ' -f1)"
for connection in $(seq 16); do
  wget -q -O /dev/null http://10.2.0.1:8080/small || echo "connection $connection failed" &
done
wait
echo "sixteen connections done"
