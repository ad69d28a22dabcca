# Shared by the image's scripts: where things are, and one way to say something on the console.
FLOWSEC_DATA=/data/flowsec
APPLIANCE_CONF=$FLOWSEC_DATA/appliance.json
NETWORK_CONF=$FLOWSEC_DATA/network.conf
FLOWSEC_HOME=/opt/flowsec
SERVICE_PID=/run/flowsec/service.pid
SERVICE_STOP=/run/flowsec/service.stop
# what the hypervisor gives the appliance (qemu -fw_cfg name=opt/io.flowsec/NAME,file=...), when it does
FW_CFG=/sys/firmware/qemu_fw_cfg/by_name/opt/io.flowsec

say() {
  echo "flowsec-image: $*" > /dev/console
}
