# A stand-in for a useGRPCForce connector script (upstream: grpc_connectors/<type>/<type>_connector.py),
# copied by forced.test.ts to <config>/grpc_connectors/<type>/<type>_connector.py. Started by the
# gateway as `python3 <script> '<json>' '<config dir>/'` and written the way upstream's reference
# client (gw_grpc_connector.py) works: logging from <config dir>/logs.json with fileConfig (INI),
# the gateway address, key and intervals from the JSON, one unary call at a time with a session
# identifier, register (on FAILURE: unregister, then register again), send converted data, poll.
# Debian's grpcio with stubs generated from messages.proto (on PYTHONPATH).
# It writes what it was given to $FORCED_TEST_OUT/launch-<pid>.json for the test to check, then
# sends one telemetry message naming its pid and a value from its connector file.
import json
import os
import sys
import time
import uuid
from logging import getLogger
from logging.config import fileConfig

import grpc
from google.protobuf import json_format

import messages_pb2
import messages_pb2_grpc

connector_config = json.loads(sys.argv[1])
config_dir = sys.argv[2]
fileConfig(config_dir + "logs.json")
log = getLogger("connector")

gateway = connector_config["gateway"]
key = connector_config["grpc_key"]
file_name, file_config = next(iter(connector_config["config"].items()))
identifier = str(uuid.uuid4())
channel = grpc.insecure_channel("%s:%d" % (gateway["host"], gateway["port"]))
stub = messages_pb2_grpc.TBGatewayProtoServiceStub(channel)


def call(msg):
    return stub.stream(json_format.ParseDict(msg, messages_pb2.FromConnectorMessage()), metadata=[("identifier", identifier)], timeout=15)


log.info("test connector %s started as pid %d", connector_config["name"], os.getpid())

configuration = None
while configuration is None:
    try:
        reply = call({"registerConnectorMsg": {"connectorKey": key}})
        if reply.HasField("connectorConfigurationMsg"):
            configuration = reply.connectorConfigurationMsg
        elif reply.response.status == messages_pb2.FAILURE:
            log.warning("registration refused: another session holds the key; unregistering it")
            call({"unregisterConnectorMsg": {"connectorKey": key}})
        else:
            log.warning("registration answered %s; trying again", messages_pb2.ResponseStatus.Name(reply.response.status))
            time.sleep(gateway.get("reconnectDelay", 60))
    except grpc.RpcError as e:
        log.warning("gateway not reachable (%s); trying again", e.code().name)
        time.sleep(0.5)

log.info("registered as %s", configuration.connectorName)
with open(os.path.join(os.environ["FORCED_TEST_OUT"], "launch-%d.json" % os.getpid()), "w") as f:
    json.dump({"argv": sys.argv[1:], "registration": json_format.MessageToDict(configuration)}, f)

device = connector_config["name"] + " device"
try:
    call({
        "gatewayTelemetryMsg": {"msg": [{"deviceName": device, "msg": {"tsKvList": [{"ts": int(time.time() * 1000), "kv": [
            {"key": "pid", "type": "LONG_V", "long_v": os.getpid()},
            {"key": "brokerHost", "type": "STRING_V", "string_v": file_config["broker"]["host"]},
        ]}]}}]}
    })
    log.info("sent telemetry for %s", device)
except grpc.RpcError as e:
    # the data is stored before the reply: the test may kill the gateway in between
    log.warning("no reply to the telemetry call (%s)", e.code().name)

interval = gateway.get("checkIncomingDataIntervalMs", 10000) / 1000
while True:
    time.sleep(interval)
    try:
        reply = call({"response": {}})
        if reply.HasField("unregisterConnectorMsg"):
            log.info("told to unregister")
    except grpc.RpcError as e:
        log.debug("poll failed: %s", e.code().name)
