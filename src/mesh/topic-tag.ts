import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';

/**
 * What a peer sends over a link to say it holds a topic, instead of the topic's name: a hash of
 * the name and of who sends it to whom. Only a peer that knows the name can make the tag it must
 * send, and a tag heard on a link is worth nothing sent back, nor to anyone else, so a peer that
 * shares one topic with us learns nothing of our others and cannot get into them.
 */
export function topicTag(topic: string, from: string, to: string): string {
  // 128 bits: a tag is compared with the few topics a peer holds, never searched for.
  return bytesToHex(sha256(utf8ToBytes(`p2p-handlers topic tag\n${topic}\n${from}\n${to}`))).slice(0, 32);
}
