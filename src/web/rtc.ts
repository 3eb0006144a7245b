// What the studio's Go live and the stage both wait for on a peer connection. Thin helpers over the browser's API.

/** Waits for ICE gathering to finish (the server takes no trickled candidates from behind a proxy), `ms` at most. */
export function gathered(pc: RTCPeerConnection, ms = 1000): Promise<void> {
  return new Promise<void>((resolve) => {
    if (pc.iceGatheringState === 'complete') return resolve();
    pc.addEventListener('icegatheringstatechange', () => {
      if (pc.iceGatheringState === 'complete') resolve();
    });
    setTimeout(resolve, ms);
  });
}

/** True once the connection is up; false when it fails or is still not up after `ms`. */
export function connected(pc: RTCPeerConnection, ms: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const check = (): void => {
      if (pc.connectionState === 'connected') resolve(true);
      if (pc.connectionState === 'failed') resolve(false);
    };
    pc.addEventListener('connectionstatechange', check);
    setTimeout(() => resolve(pc.connectionState === 'connected'), ms);
  });
}
