# Dependencies of the header-only target. The minimum versions and the
# pkg-config module name are defined once here and substituted into
# srformerConfig.cmake (cmake/srformerConfig.cmake.in), so consumers of the
# installed package find exactly the same things as this build.
include(GNUInstallDirs)

set(SRFORMER_EIGEN3_MIN_VERSION 3.4)
set(SRFORMER_NLOHMANN_JSON_MIN_VERSION 3.10)
set(SRFORMER_SENTENCEPIECE_PKG sentencepiece)

find_package(Eigen3 ${SRFORMER_EIGEN3_MIN_VERSION} REQUIRED NO_MODULE)
find_package(nlohmann_json ${SRFORMER_NLOHMANN_JSON_MIN_VERSION} REQUIRED)
find_package(Threads REQUIRED)
find_package(PkgConfig REQUIRED)
# Debian's libsentencepiece-dev ships a pkg-config file but no CMake package.
# GLOBAL: one PkgConfig::SentencePiece for the whole build, so a project that
# pulls srformer in with FetchContent can name it too and does not re-run the
# pkg-config query. (Linking srformer works either way: CMake resolves link items
# in the directory of the target that names them.)
pkg_check_modules(SentencePiece REQUIRED IMPORTED_TARGET GLOBAL ${SRFORMER_SENTENCEPIECE_PKG})
