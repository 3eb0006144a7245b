// The cost report's prices, read from the cost.* configuration keys (defaults and their sources: docs/cost.md).

import type { Config } from '../config/schema.js';
import type { Prices } from './cost.js';

/** The prices of the cost report, from the cost.* keys. */
export function pricesFrom(config: Config): Prices {
  return {
    boxPerMonth: config['cost.boxPerMonth'], classesPerMonth: config['cost.classesPerMonth'], cdnPerGb: config['cost.cdnPerGb'],
    muxEncodePerMinHd: config['cost.muxEncodePerMinHd'], muxEncodePerMinSd: config['cost.muxEncodePerMinSd'],
    muxDeliveryPerMin: config['cost.muxDeliveryPerMin'], muxStoragePerMinMonth: config['cost.muxStoragePerMinMonth'],
    zoomPerHostPerMonth: config['cost.zoomPerHostPerMonth'], zoomLargeMeetingPerMonth: config['cost.zoomLargeMeetingPerMonth'], zoomHosts: config['cost.zoomHosts'],
  };
}
