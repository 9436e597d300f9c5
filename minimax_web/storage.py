"""Static files storage for production: WhiteNoise's compressed, hashed manifest storage that
also rewrites ES-module specifiers (`import … from "./x.js"`, `export … from`, `import "./x.js"`)
to the hashed names. Without it the hashed `app.<hash>.js` of a new deploy imports the unhashed
`./messages.js`, which a browser or proxy may still hold from the previous deploy (WhiteNoise
lets caches keep unhashed names for a while), so new code would run against old modules."""

from whitenoise.storage import CompressedManifestStaticFilesStorage


class ModuleManifestStaticFilesStorage(CompressedManifestStaticFilesStorage):
    support_js_module_import_aggregation = True
