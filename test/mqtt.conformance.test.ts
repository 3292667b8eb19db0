/**
 * The conformance suite against the MQTT handler over real WebRTC, on the embedded aedes
 * broker, over TCP and over WebSocket.
 */
import { startMqttBroker } from '../handlers/mqtt/broker.js';
import { runConformanceSuite } from '../src/conformance/index.js';
import { mqttTarget } from './fixtures/mqtt-target.js';

runConformanceSuite(mqttTarget('mqtt on aedes (tcp)', async () => {
  const broker = await startMqttBroker();
  return { url: broker.url, close: broker.close };
}));
runConformanceSuite(mqttTarget('mqtt on aedes (websocket)', async () => {
  const broker = await startMqttBroker();
  return { url: broker.wsUrl, close: broker.close };
}));
