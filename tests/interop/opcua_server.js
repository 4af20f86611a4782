// A small OPC UA server built with node-opcua, an implementation independent
// of asyncua, for the interoperability test of TeachFab's OPC UA adapter.
// Usage: node opcua_server.js PORT
// Prints "READY <endpoint> <t0_ms>" once it listens. Pump/Vibration holds
// blocks of 100 samples at 1 kHz of sin(2*pi*50*t), t counted from t0_ms.
"use strict";
const {
  OPCUAServer, Variant, DataType, VariantArrayType, StatusCodes,
} = require("node-opcua");

const RATE = 1000;
const BLOCK = 100;

async function main() {
  const port = Number(process.argv[2]);
  const server = new OPCUAServer({ port, resourcePath: "/interop", buildInfo: { productName: "teachfab-interop" } });
  await server.initialize();
  const addressSpace = server.engine.addressSpace;
  const ns = addressSpace.registerNamespace("urn:teachfab:interop");
  const pump = ns.addObject({ organizedBy: addressSpace.rootFolder.objects, browseName: "Pump", nodeId: "s=Pump" });
  const vibration = ns.addVariable({
    componentOf: pump, browseName: "Vibration", nodeId: "s=Pump.Vibration", dataType: "Double",
    valueRank: 1, arrayDimensions: [BLOCK], minimumSamplingInterval: 10,
    value: new Variant({ dataType: DataType.Double, arrayType: VariantArrayType.Array, value: new Float64Array(BLOCK) }),
  });
  ns.addVariable({
    componentOf: pump, browseName: "SampleRate", nodeId: "s=Pump.SampleRate", dataType: "Double",
    minimumSamplingInterval: 1000, value: new Variant({ dataType: DataType.Double, value: RATE }),
  });
  const temperature = ns.addVariable({
    componentOf: pump, browseName: "Temperature", nodeId: "s=Pump.Temperature", dataType: "Double",
    minimumSamplingInterval: 10, value: new Variant({ dataType: DataType.Double, value: 20 }),
  });
  await server.start();
  const t0 = Math.ceil(Date.now() / 100) * 100;
  let k = 0;
  setInterval(() => {
    const values = new Float64Array(BLOCK);
    for (let i = 0; i < BLOCK; i++) values[i] = Math.sin((2 * Math.PI * 50 * (k * BLOCK + i)) / RATE);
    const stamp = new Date(t0 + (k * BLOCK * 1000) / RATE);
    vibration.setValueFromSource(
      new Variant({ dataType: DataType.Double, arrayType: VariantArrayType.Array, value: values }),
      StatusCodes.Good, stamp);
    temperature.setValueFromSource(new Variant({ dataType: DataType.Double, value: 20 + k * 0.01 }), StatusCodes.Good, stamp);
    k++;
  }, 100);
  console.log(`READY ${server.getEndpointUrl()} ${t0}`);
  process.on("SIGTERM", async () => { await server.shutdown(100); process.exit(0); });
}

main().catch((err) => { console.error(err); process.exit(1); });
