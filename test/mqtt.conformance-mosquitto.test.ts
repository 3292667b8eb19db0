/**
 * The conformance suite against the MQTT handler over real WebRTC on Debian's mosquitto, a
 * separate process, over TCP and over WebSocket.
 */
import { runConformanceSuite } from '../src/conformance/index.js';
import { startMosquitto } from './fixtures/mqtt-mosquitto.js';
import { mqttTarget } from './fixtures/mqtt-target.js';

runConformanceSuite(mqttTarget('mqtt on mosquitto (tcp)', async () => {
  const broker = await startMosquitto();
  return { url: broker.url, close: broker.close };
}));
runConformanceSuite(mqttTarget('mqtt on mosquitto (websocket)', async () => {
  const broker = await startMosquitto();
  return { url: broker.wsUrl, close: broker.close };
}));
