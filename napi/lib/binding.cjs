'use strict';
// Loads the native half of nexurejs (napi/README.md). Which file is locate.cjs's choice:
// NEXURE_ADDON (e.g. a sanitizer build), else the addon built from source, else the prebuilt one
// the npm package carries.
const { locate } = require('./locate.cjs');

function load() {
  const { file, kind, tried } = locate();
  if (file === null) {
    // The list a build from source checks for (napi/scripts/requirements.cjs).
    const { PACKAGES } = require('../scripts/requirements.cjs');
    throw new Error(
      'nexurejs: no native addon: none was built and there is no prebuilt one for ' +
        `${process.platform}-${process.arch} (looked at ${tried.map((t) => t.file).join(', ')}). ` +
        'Was the package installed with --ignore-scripts, or did its build fail? Run ' +
        '`npm rebuild nexurejs --foreground-scripts` and read its output: building needs Linux, ' +
        `cmake, g++ and the headers of the native libraries (apt-get install ${PACKAGES.join(' ')}).`,
    );
  }
  try {
    return require(file);
  } catch (err) {
    const hint =
      kind === 'prebuilt'
        ? ' The prebuilt addon needs glibc and Node-API at least as recent as ' +
          'prebuilds/*/manifest.json says; build it from source instead with ' +
          '`NEXURE_BUILD_FROM_SOURCE=1 npm rebuild nexurejs --foreground-scripts`.'
        : '';
    throw new Error(
      `nexurejs: cannot load the native addon ${file} (${kind}): ${err && err.message}.${hint}`,
      { cause: err },
    );
  }
}

const binding = load();

// Main-thread process.exit() runs no environment cleanup hook: without this the engine threads
// would still be serving while the process tears itself down. 'exit' fires in worker_threads
// too. Servers still waiting for JavaScript answers after a short grace period are left to the
// OS (binding.shutdownAll() in napi/src/addon.cc).
process.once('exit', () => {
  binding.shutdownAll();
});

module.exports = binding;
